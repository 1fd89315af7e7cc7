//! The conversations between one EAP round and the next, keyed by the 16 random bytes of
//! the State the server sent (new every round). Bounded: at most `cap` at once, each
//! forgotten `lifetime` after its round; a conversation over the cap is refused.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Method;

/// One conversation, waiting for the peer's next Response.
#[derive(Debug)]
pub struct Conversation {
    /// The EAP identity: the user.
    pub user: Box<str>,
    /// The Identifier of the outstanding Request.
    pub identifier: u8,
    /// The method and its state.
    pub method: Method,
    /// When its last Request went out.
    sent: Instant,
}

/// The table.
#[derive(Debug)]
pub struct Conversations {
    open: Mutex<HashMap<[u8; 16], Conversation>>,
    cap: usize,
    lifetime: Duration,
}

impl Conversations {
    /// An empty table of at most `cap` conversations, each kept `lifetime` after its last
    /// round.
    pub fn new(cap: usize, lifetime: Duration) -> Conversations {
        Conversations {
            open: Mutex::new(HashMap::new()),
            cap,
            lifetime,
        }
    }

    fn open_map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 16], Conversation>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a conversation; its State, or None when the table is full.
    pub fn open(&self, user: &str, identifier: u8, method: Method) -> Option<[u8; 16]> {
        let mut open = self.open_map();
        if open.len() >= self.cap {
            return None;
        }
        let state: [u8; 16] = rand::random();
        open.insert(
            state,
            Conversation {
                user: user.into(),
                identifier,
                method,
                sent: Instant::now(),
            },
        );
        metrics::gauge!("turnstile_eap_conversations").set(open.len() as f64);
        Some(state)
    }

    /// Takes the conversation of `state` out of the table, unless it has expired.
    pub fn take(&self, state: &[u8]) -> Option<Conversation> {
        let state: &[u8; 16] = state.try_into().ok()?;
        let taken = self.open_map().remove(state)?;
        (taken.sent.elapsed() < self.lifetime).then_some(taken)
    }

    /// Forgets the conversations whose peer went silent.
    pub fn prune(&self) {
        let mut open = self.open_map();
        open.retain(|_, c| c.sent.elapsed() < self.lifetime);
        metrics::gauge!("turnstile_eap_conversations").set(open.len() as f64);
    }

    /// Conversations open now.
    pub fn len(&self) -> usize {
        self.open_map().len()
    }

    /// True when none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::eap::md5::Md5;

    #[test]
    fn a_conversation_is_taken_once_and_expires() {
        let table = Conversations::new(2, Duration::from_millis(50));
        let state = table.open("alice", 1, Method::Md5(Md5::new())).unwrap();
        assert_eq!(table.take(&state).map(|c| c.identifier), Some(1));
        assert!(table.take(&state).is_none());
        assert!(table.take(b"short").is_none());

        let state = table.open("alice", 1, Method::Md5(Md5::new())).unwrap();
        table.open("bob", 1, Method::Md5(Md5::new())).unwrap();
        assert!(
            table.open("carol", 1, Method::Md5(Md5::new())).is_none(),
            "cap"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(table.take(&state).is_none(), "expired");
        table.prune();
        assert!(table.is_empty());
    }
}
