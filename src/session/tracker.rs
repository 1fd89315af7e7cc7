//! Applies accounting to the online table: each change is written to the store first and
//! to memory after, so what a NAS was told is recorded survives a crash, and the table is
//! restored from the store at start.

use std::sync::Arc;

use super::online::{OnlineTable, Session, SessionKey};
use crate::radius::accounting::{AccountingRequest, AcctStatus};
use crate::store::{OnlineRecord, Store, StoreError};

/// The online table and the store behind it.
pub struct SessionTracker {
    store: Arc<dyn Store>,
    online: Arc<OnlineTable>,
}

impl SessionTracker {
    /// Restores the online table from the store.
    pub async fn restore(
        store: Arc<dyn Store>,
        online: Arc<OnlineTable>,
    ) -> Result<SessionTracker, StoreError> {
        for r in store.online_sessions().await? {
            online.insert(
                SessionKey {
                    nas: r.nas.into(),
                    id: r.session_id.into(),
                },
                Session {
                    user: r.user.into(),
                    started_at: r.started_at,
                    pending_end: None,
                },
            );
        }
        Ok(SessionTracker { store, online })
    }

    /// Records one Accounting-Request from `nas` at unix second `now`; returns only once
    /// the change is durable.
    pub async fn apply(
        &self,
        nas: &str,
        request: &AccountingRequest,
        now: i64,
    ) -> Result<(), StoreError> {
        let key = SessionKey {
            nas: nas.into(),
            id: request.session_id.as_str().into(),
        };
        match request.status {
            AcctStatus::Start | AcctStatus::InterimUpdate => {
                // A repeated Start or an Interim-Update keeps the session's start.
                let existing = self.online.get(&key);
                let started_at = existing.as_ref().map_or(now, |s| s.started_at);
                self.store
                    .put_online(&OnlineRecord {
                        nas: nas.to_string(),
                        session_id: request.session_id.clone(),
                        user: request.user.clone(),
                        started_at,
                        updated_at: now,
                    })
                    .await?;
                self.online.insert(
                    key,
                    Session {
                        user: request.user.as_str().into(),
                        started_at,
                        pending_end: existing.and_then(|s| s.pending_end),
                    },
                );
            }
            AcctStatus::Stop => {
                self.store.remove_online(nas, &request.session_id).await?;
                self.online.remove(&key);
            }
            AcctStatus::AccountingOn | AcctStatus::AccountingOff => {
                let n = self.store.remove_online_nas(nas).await?;
                self.online.remove_nas(nas);
                tracing::info!(
                    nas,
                    sessions = n,
                    status = request.status.label(),
                    "NAS sessions closed"
                );
            }
            AcctStatus::Other(_) => {}
        }
        Ok(())
    }
}
