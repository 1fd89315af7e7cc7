//! Authorization: does this request prove it knows the user's password, and may the user
//! get online, with what limits? [`policy::evaluate`] decides; it is a pure function, so
//! every refusal code is testable in microseconds. The other modules read what a request
//! carries ([`nas_port`], [`credentials`]; MAC addresses are [`crate::mac`]) or
//! remember recent logins ([`throttle`]). [`authenticator`] is what RADIUS and the portal
//! both call (request view ─▶ credentials ─▶ `evaluate` ─▶ note), held in the one login
//! [`Service`] of every front door.

pub mod authenticator;
pub mod credentials;
pub mod eap;
pub mod nas_port;
pub mod policy;
pub mod service;
pub mod throttle;

pub use credentials::{Credentials, Proof};
pub use policy::{evaluate, Decision, Grant};
pub use service::Service;
