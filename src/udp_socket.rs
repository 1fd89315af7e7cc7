//! UDP sockets with the kernel receive buffer they need, and the kernel's counters of
//! them.

use std::io;
use std::net::SocketAddr;

/// A UDP socket on `addr` with a kernel receive buffer of `recv_buffer` bytes: the queue
/// that takes a burst (or a flood) while the reader catches up. At the default of about
/// 200 KiB, a few hundred small datagrams fill it and what comes next is lost. With
/// `reuse_port`, several sockets share the port (one per authentication worker).
pub fn open(addr: SocketAddr, recv_buffer: usize, reuse_port: bool) -> io::Result<socket2::Socket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_reuse_port(reuse_port)?;
    // The kernel may cap this at net.core.rmem_max; a smaller buffer still works.
    let _ = socket.set_recv_buffer_size(recv_buffer);
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// [`open`] for tokio: the accounting listener and the DM/CoA client.
pub fn bind(addr: SocketAddr, recv_buffer: usize) -> io::Result<tokio::net::UdpSocket> {
    let socket = open(addr, recv_buffer, false)?;
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// Kernel counters of the UDP sockets bound to one port.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SocketStats {
    /// Bytes waiting in the receive queues.
    pub queued_bytes: u64,
    /// Datagrams dropped because a receive queue was full.
    pub drops: u64,
}

/// Sums `/proc/net/udp{,6}` over the sockets bound to `port` (Linux only).
pub fn socket_stats(port: u16) -> Option<SocketStats> {
    let mut stats = SocketStats::default();
    let mut seen = false;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
            let (Some(local), Some(queues), Some(drops)) =
                (fields.get(1), fields.get(4), fields.last())
            else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port != Some(port) {
                continue;
            }
            seen = true;
            let rx = queues
                .split(':')
                .nth(1)
                .and_then(|q| u64::from_str_radix(q, 16).ok());
            stats.queued_bytes += rx.unwrap_or(0);
            stats.drops += drops.parse::<u64>().unwrap_or(0);
        }
    }
    seen.then_some(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_overflow_of_a_full_socket_is_seen() {
        // A socket nobody reads, with the smallest buffer: the kernel must drop, and
        // socket_stats must report both the queued bytes and the drops.
        let socket = open("127.0.0.1:0".parse().unwrap(), 1, false).unwrap();
        let port = socket.local_addr().unwrap().as_socket().unwrap().port();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..2000 {
            let _ = sender.send_to(&[0u8; 512], ("127.0.0.1", port));
        }
        let stats = socket_stats(port).expect("socket listed in /proc/net/udp");
        assert!(stats.queued_bytes > 0, "{stats:?}");
        assert!(stats.drops > 0, "{stats:?}");
        drop(socket);
    }
}
