//! The Dynamic Authorization client (RFC 5176): Disconnect-Request and CoA-Request to a
//! NAS ([`crate::proto::radius::dynauth`] builds them), retransmitted with backoff until
//! an ACK or NAK arrives or time runs out. Replies are accepted only with the right
//! identifier and, as the codec checks, authenticators.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use crate::config::DynAuthSettings;
use crate::proto::radius::crypto::SharedSecret;
use crate::proto::radius::dynauth::{self, Action, Outcome, SessionRef};
use crate::proto::radius::packet::{Packet, MAX_PACKET_LEN};

struct Waiting {
    authenticator: [u8; 16],
    secret: SharedSecret,
    reply: oneshot::Sender<Vec<u8>>,
}

type WaitingMap = Arc<Mutex<HashMap<(SocketAddr, u8), Waiting>>>;

/// Sends Disconnect and CoA requests from one socket and matches the replies.
pub struct DynAuthClient {
    socket: Arc<UdpSocket>,
    waiting: WaitingMap,
    schedule: DynAuthSettings,
    receiver: tokio::task::JoinHandle<()>,
}

impl Drop for DynAuthClient {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

impl DynAuthClient {
    /// Binds a socket on `local` (port 0) with a kernel receive buffer of `recv_buffer`
    /// bytes, so that a NAS flooding it with forged replies does not crowd out the real
    /// ones, and starts reading replies.
    pub async fn bind(
        local: IpAddr,
        recv_buffer: usize,
        schedule: DynAuthSettings,
    ) -> io::Result<DynAuthClient> {
        let socket = Arc::new(crate::udp_socket::bind(
            SocketAddr::new(local, 0),
            recv_buffer,
        )?);
        let waiting: WaitingMap = Arc::default();
        let receiver = tokio::spawn(receive(socket.clone(), waiting.clone()));
        Ok(DynAuthClient {
            socket,
            waiting,
            schedule,
            receiver,
        })
    }

    /// Asks the NAS at `to` to act on `session`; waits for its answer, retransmitting
    /// the same request after 2, 4, 8, 16 s (by default) within the total time allowed.
    pub async fn send(
        &self,
        to: SocketAddr,
        secret: &SharedSecret,
        action: Action<'_>,
        session: &SessionRef,
    ) -> Outcome {
        let Some((id, rx, packet)) = self.register(to, secret, action, session) else {
            tracing::warn!(nas = %to, "no free identifier or request too large; not sent");
            return Outcome::NoAnswer;
        };
        let outcome = self.exchange(to, &packet, rx).await;
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(to, id));
        match outcome {
            Some(reply) => match Packet::parse(&reply) {
                Ok(reply) => dynauth::outcome(&reply),
                Err(_) => Outcome::NoAnswer,
            },
            None => Outcome::NoAnswer,
        }
    }

    /// Picks a free identifier for `to`, builds the request and waits for its reply.
    fn register(
        &self,
        to: SocketAddr,
        secret: &SharedSecret,
        action: Action<'_>,
        session: &SessionRef,
    ) -> Option<(u8, oneshot::Receiver<Vec<u8>>, Vec<u8>)> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let start: u8 = rand::random();
        let id = (0..=255u8)
            .map(|i| start.wrapping_add(i))
            .find(|id| !waiting.contains_key(&(to, *id)))?;
        let packet = dynauth::request(id, secret, action, session, crate::clock::now()).ok()?;
        let (reply, rx) = oneshot::channel();
        let authenticator = packet[4..20].try_into().ok()?;
        waiting.insert(
            (to, id),
            Waiting {
                authenticator,
                secret: secret.clone(),
                reply,
            },
        );
        Some((id, rx, packet))
    }

    async fn exchange(
        &self,
        to: SocketAddr,
        packet: &[u8],
        mut rx: oneshot::Receiver<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        let s = &self.schedule;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(s.total_ms);
        let mut wait = Duration::from_millis(s.initial_retry_ms);
        for attempt in 0..s.tries.max(1) {
            if attempt > 0 {
                metrics::counter!("turnstile_dynauth_retransmissions_total").increment(1);
            }
            if let Err(e) = self.socket.send_to(packet, to).await {
                tracing::warn!(nas = %to, error = %e, "DM/CoA request not sent");
            }
            let until = (tokio::time::Instant::now() + wait).min(deadline);
            match tokio::time::timeout_at(until, &mut rx).await {
                Ok(Ok(reply)) => return Some(reply),
                Ok(Err(_)) => return None,
                Err(_) if tokio::time::Instant::now() >= deadline => return None,
                Err(_) => {}
            }
            wait = (wait * 2).min(Duration::from_millis(s.max_retry_ms));
        }
        None
    }
}

/// Reads replies and hands each, once verified, to the request waiting for it.
async fn receive(socket: Arc<UdpSocket>, waiting: WaitingMap) {
    let mut buf = vec![0u8; MAX_PACKET_LEN + 1];
    let dropped = |reason: &'static str| {
        metrics::counter!("turnstile_dynauth_dropped_total", "reason" => reason).increment(1);
    };
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let bytes = &buf[..len];
        let Ok(packet) = Packet::parse(bytes) else {
            dropped("malformed");
            continue;
        };
        if !dynauth::is_reply(packet.code()) {
            dropped("unexpected_code");
            continue;
        }
        let mut map = waiting.lock().unwrap_or_else(|e| e.into_inner());
        let key = (from, packet.identifier());
        let Some(w) = map.get(&key) else {
            dropped("unknown_identifier");
            continue;
        };
        if !dynauth::authentic_reply(bytes, &w.authenticator, &w.secret) {
            dropped("bad_authenticator");
            continue;
        }
        if let Some(w) = map.remove(&key) {
            let _ = w.reply.send(bytes.to_vec());
        }
    }
}
