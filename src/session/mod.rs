//! Sessions: who is online now ([`online::OnlineTable`]). Accounting feeds the table
//! through [`tracker::SessionTracker`], durably; the policy reads its counts; kicks are
//! recorded on the session they end. [`event::AccountingEvent`] is what the tracker takes,
//! from a NAS or from the portal.

pub mod dynauth;
pub mod event;
pub mod kick;
pub mod online;
pub mod plan_change;
pub mod sweeper;
pub mod tracker;

/// The NAS name of portal sessions: the portal is their access point.
pub const PORTAL_NAS: &str = "portal";
