//! Sessions: who is online now ([`online::OnlineTable`]). Accounting feeds the table
//! through [`journal::Journal`], durably; the policy reads its counts; kicks are
//! recorded on the session they end. [`event::AccountingEvent`] is what the journal takes,
//! from a NAS or from the portal.

pub mod dynauth;
pub mod event;
pub mod journal;
pub mod kick;
pub mod online;
pub mod plan_change;
pub mod sweeper;

/// The NAS name of portal sessions: the portal is their access point.
pub const PORTAL_NAS: &str = "portal";
