//! Sessions as stored: those online, and the history of ended ones (上网明细).

use async_trait::async_trait;
use std::collections::{HashMap, HashSet};

use super::billing::UsageDelta;
use super::StoreError;

/// A session as the store keys it: NAS client name and Acct-Session-Id.
pub type SessionRef = (String, String);

/// What the store holds of the sessions a batch of accounting is about, read in the
/// batch's transaction (on PostgreSQL with their rows locked until it commits).
#[derive(Debug, Default)]
pub struct StoredSessions {
    /// Those online.
    pub online: HashMap<SessionRef, OnlineRecord>,
    /// Those of the batch's `late` keys not online whose history shows them ended
    /// recently: a late copy of their Stop (retransmitted to another node, say) must not
    /// count them twice.
    pub ended: HashSet<SessionRef>,
}

/// What a batch of accounting does: the changes, in order, and the usage they add to
/// product instances.
#[derive(Debug, Default)]
pub struct OnlinePlan {
    /// Changes to the online sessions.
    pub changes: Vec<OnlineChange>,
    /// Usage added to product instances.
    pub usage: Vec<UsageDelta>,
}

/// Sessions (and usage) another node changed, to be read again.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SessionsTouched {
    /// These sessions.
    pub sessions: Vec<SessionRef>,
    /// Every session of these NAS clients (Accounting-On/Off).
    pub nases: Vec<String>,
    /// Users whose product instances' usage changed (a settlement), whatever their
    /// sessions did.
    pub users: Vec<String>,
    /// Every session (notifications may have been missed).
    pub all: bool,
}

impl SessionsTouched {
    /// Adds what `other` touched.
    pub fn merge(&mut self, other: SessionsTouched) {
        self.sessions.extend(other.sessions);
        self.nases.extend(other.nases);
        self.users.extend(other.users);
        self.all |= other.all;
    }

    /// True when nothing was touched.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.nases.is_empty() && self.users.is_empty() && !self.all
    }
}

/// A session online, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnlineRecord {
    /// NAS client name.
    pub nas: String,
    /// Acct-Session-Id.
    pub session_id: String,
    /// User-Name.
    pub user: String,
    /// Product instance, from the Class the Accept carried.
    pub product: Option<String>,
    /// Framed-IP-Address.
    pub framed_ip: Option<String>,
    /// Calling-Station-Id.
    pub station: Option<String>,
    /// NAS-Port-Id, else NAS-Port.
    pub nas_port: Option<String>,
    /// NAS-IP-Address, else the address accounting came from: where DM/CoA go.
    pub nas_addr: Option<String>,
    /// Unix second of the Start.
    pub started_at: i64,
    /// Unix second of the last Start or Interim-Update.
    pub updated_at: i64,
    /// Acct-Session-Time, seconds.
    pub session_time: i64,
    /// Octets from the user (upload), gigawords included.
    pub input_octets: i64,
    /// Octets to the user (download), gigawords included.
    pub output_octets: i64,
    /// Unix second of the last split (settlement, policy change); 0 if none.
    pub split_at: i64,
    /// Acct-Session-Time at the last split.
    pub split_time: i64,
    /// Input octets at the last split.
    pub split_input: i64,
    /// Output octets at the last split.
    pub split_output: i64,
}

impl OnlineRecord {
    /// The part of the session since its last split, as its history row records it.
    pub fn part(&self) -> OnlineRecord {
        OnlineRecord {
            started_at: self.started_at.max(self.split_at),
            session_time: (self.session_time - self.split_time).max(0),
            input_octets: (self.input_octets - self.split_input).max(0),
            output_octets: (self.output_octets - self.split_output).max(0),
            split_at: 0,
            split_time: 0,
            split_input: 0,
            split_output: 0,
            ..self.clone()
        }
    }
}

/// An ended session (上网明细).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryRecord {
    /// The session as it last was; `updated_at` is when it ended.
    pub session: OnlineRecord,
    /// The E-code of the end, when there is one.
    pub cause: Option<u32>,
    /// Acct-Terminate-Cause as sent by the NAS.
    pub terminate_cause: Option<u32>,
    /// How a server-side end reached the session (E4xxx), when `cause` says why.
    pub via: Option<u32>,
}

/// A change to the stored online sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnlineChange {
    /// The session is online (insert or update).
    Put(OnlineRecord),
    /// The session ended: it leaves the online sessions for the history (which records
    /// the part since its last split).
    End(HistoryRecord),
    /// The session stays online, but its part so far goes to the history (virtual
    /// offline at settlement, a policy change); `session` is it after the split.
    Split {
        /// The part that ends (its session's `part()` is recorded).
        history: Box<HistoryRecord>,
        /// The session as it goes on.
        session: OnlineRecord,
    },
    /// Every session of the NAS ended at `at` with `cause`.
    EndNas {
        /// NAS client name.
        nas: String,
        /// Unix second.
        at: i64,
        /// E-code number.
        cause: u32,
    },
}

/// Online sessions and their history.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Every session online, oldest first.
    async fn online_sessions(&self) -> Result<Vec<OnlineRecord>, StoreError>;
    /// Reads the sessions of `keys` as stored (and which of `late` ended since unix
    /// second `ended_since`), has `plan` decide what the batch does with them, and
    /// writes that, with the usage added to product instances, in one durable
    /// transaction. Other nodes are told which sessions changed.
    async fn apply_online(
        &self,
        keys: &[SessionRef],
        late: &[SessionRef],
        ended_since: i64,
        plan: &mut (dyn for<'s> FnMut(&'s StoredSessions) -> OnlinePlan + Send),
    ) -> Result<OnlinePlan, StoreError>;
    /// The sessions online now among `touched`.
    async fn online_of(&self, touched: &SessionsTouched) -> Result<Vec<OnlineRecord>, StoreError>;
    /// Waits for sessions other nodes changed (and told of), gathering everything told
    /// since the last call. A store no other node shares never returns.
    async fn changed_elsewhere(&self) -> SessionsTouched;
    /// Ended sessions, newest first: of one user, or of everyone; at most `limit`.
    async fn history(
        &self,
        user: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HistoryRecord>, StoreError>;
}
