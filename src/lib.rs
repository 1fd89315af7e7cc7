//! turnstile: an AAA daemon for campus and ISP access networks.
//!
//! # Map
//!
//! | module | what it owns |
//! | --- | --- |
//! | [`codes`] | the E-code catalog: every Srun code with its Chinese and English text |
//! | [`config`] | typed settings from `config/turnstile.toml` and `TURNSTILE__…` variables |
//! | [`radius`] | wire format, MD5/HMAC cryptography, NAS client table, reply cache, listener |
//! | [`auth`] | credential checks (PAP, CHAP) and the decision: accept, or refuse with a code |
//! | [`directory`] | the in-memory users and NAS clients that the packet path reads |
//! | [`store`] | the [`store::Store`] trait and its SQLite backend; sealed secrets; CSV import |
//! | [`daemon`] | wiring for `turnstile serve` |
//! | [`telemetry`] | logs and Prometheus metrics |
//!
//! # How an Access-Request flows
//!
//! ```text
//! NAS ─UDP─▶ radius::server (reader) ─▶ directory: client table ─▶ reply_cache
//!              │ unknown source: drop       retransmission: resend cached reply
//!              ▼
//!            bounded queue ─▶ worker: radius::access ─ packet::Packet::parse,
//!              Message-Authenticator check ─▶ auth::authenticate(request, user)
//!              ─▶ Decision::Accept | Reject(ECode) ─▶ reply (Message-Authenticator
//!              first; refusals carry Reply-Message "CODE: text") ─▶ cache ─▶ NAS
//! ```
//!
//! The CLI changes the store; every change is written to a change log in the same
//! transaction, and [`directory::Directory::follow`] applies it to memory.

pub mod account;
pub mod auth;
pub mod catalog;
pub mod codes;
pub mod config;
pub mod daemon;
pub mod directory;
pub mod radius;
pub mod session;
pub mod store;
pub mod telemetry;
