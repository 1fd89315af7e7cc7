//! The login service every front door holds (the RADIUS listener, the portal, reload;
//! EAP, the BRAS portal and self-service next): the [`Authenticator`] with the directory
//! it reads and the language refusals are written in.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::authenticator::{Authenticator, Sessions};
use super::eap::Conversations;
use super::throttle::Throttle;
use crate::billing::meter::Meter;
use crate::codes::Lang;
use crate::config::Settings;
use crate::directory::Directory;
use crate::store::Store;

/// Checks credentials and decides, for every way in.
pub struct Service {
    /// Language of refusal texts.
    pub lang: Lang,
    /// Credentials ─▶ policy ─▶ note.
    pub authenticator: Authenticator,
    /// EAP conversations between rounds.
    pub eap: Conversations,
}

/// EAP conversations open at once: a morning rush of Wi-Fi logins.
const EAP_CONVERSATIONS: usize = 10_000;
/// How long a conversation waits for the peer's next Response.
const EAP_SILENCE: Duration = Duration::from_secs(60);

impl Service {
    /// The service `settings` describe, over the daemon's `directory`, sessions online and
    /// meter; new lockouts are sent to `lockouts` to be stored.
    pub fn new(
        settings: &Settings,
        directory: Arc<Directory>,
        sessions: Arc<dyn Sessions>,
        meter: Arc<Meter>,
        lockouts: UnboundedSender<(Box<str>, i64)>,
    ) -> Service {
        Service {
            lang: settings.general.language,
            authenticator: Authenticator {
                directory,
                throttle: Throttle::new(settings.policy),
                sessions,
                lockouts,
                meter,
                default_interim_secs: settings.sessions.default_interim_secs,
            },
            eap: Conversations::new(EAP_CONVERSATIONS, EAP_SILENCE),
        }
    }

    /// Users, NAS clients and the catalog, as the authenticator reads them.
    pub fn directory(&self) -> &Directory {
        &self.authenticator.directory
    }
}

/// Stores each lockout the service sends, in order, until every sender is gone and the
/// queue is empty, so that what was locked before a shutdown is stored. A failed write is
/// logged: that lockout ends at a restart.
pub async fn store_lockouts(
    store: Arc<dyn Store>,
    mut lockouts: UnboundedReceiver<(Box<str>, i64)>,
) {
    while let Some((user, until)) = lockouts.recv().await {
        if let Err(e) = store.set_lockout(&user, until).await {
            tracing::error!(user = ?user, error = %e, "lockout not stored; it ends at a restart");
        }
    }
}
