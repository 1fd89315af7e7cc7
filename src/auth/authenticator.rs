//! The one authenticator RADIUS and the portal share: a request view goes in, the
//! credentials are checked and [`super::policy::evaluate`] decides against the user,
//! the catalog, the sessions online and the user's recent history; then the decision is
//! noted (login history, a lockout to store, the oldest session to push out).

use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

use super::policy::{evaluate, Clock, Decision, OnlineCounts, Request, Situation};
use super::throttle::Throttle;
use crate::billing::meter::Meter;
use crate::codes::ECode;
use crate::directory::Directory;

/// What the authenticator needs of the sessions online (the session layer has them).
pub trait Sessions: Send + Sync {
    /// How many sessions the user, and everyone, have online.
    fn counts(&self, user: &str) -> OnlineCounts;
    /// Marks the user's oldest session to be disconnected with `cause`; its (NAS,
    /// Acct-Session-Id), or None when there is none.
    fn push_out_oldest(&self, user: &str, cause: ECode) -> Option<(String, String)>;
}

/// Checks requests from RADIUS and the portal alike.
pub struct Authenticator {
    /// Users and the catalog.
    pub directory: Arc<Directory>,
    /// Recent logins per user (E2532, E2533).
    pub throttle: Throttle,
    /// Sessions online (E2620, E2621, E3008).
    pub sessions: Arc<dyn Sessions>,
    /// Where new lockouts go to be stored.
    pub lockouts: UnboundedSender<(Box<str>, i64)>,
    /// Usage of product instances this cycle (quotas, funds).
    pub meter: Arc<Meter>,
    /// Acct-Interim-Interval when the control policy sets none.
    pub default_interim_secs: u32,
}

impl Authenticator {
    /// Decides on `request` for `user`, and notes the decision.
    pub fn authenticate(&self, user: &str, request: &Request<'_>) -> Decision {
        let entry = self.directory.user(user);
        let catalog = self.directory.catalog();
        let clock = Clock::now();
        let limits = self.throttle.limits();
        let situation = Situation {
            catalog: &catalog,
            limits: &limits,
            online: self.sessions.counts(user),
            history: self.throttle.history(user),
            clock,
            meter: &self.meter,
            default_interim_secs: self.default_interim_secs,
        };
        let decision = evaluate(request, entry.as_deref(), &situation);
        // Unknown names leave no history: a flood of them must not grow memory.
        if entry.is_some() {
            self.note(user, &decision, clock.unix);
        }
        decision
    }

    fn note(&self, user: &str, decision: &Decision, now: i64) {
        if let Some(until) = self.throttle.record(user, decision.code(), now) {
            tracing::warn!(user = ?user, until, "too many wrong passwords; account locked");
            // The receiver lives as long as the daemon; a send can only fail at shutdown.
            let _ = self.lockouts.send((user.into(), until));
        }
        if let Decision::Accept(grant) = decision {
            if grant.kick_oldest {
                let cause = ECode::SessionLimitExceeded;
                match self.sessions.push_out_oldest(user, cause) {
                    Some((nas, session)) => {
                        metrics::counter!("turnstile_kicks_scheduled_total", "cause" => cause.to_string())
                            .increment(1);
                        tracing::info!(user = ?user, %nas, session = ?session, cause = %cause, "oldest session scheduled for disconnection");
                    }
                    None => tracing::debug!(user = ?user, "no session left to push out"),
                }
            }
        }
    }
}
