//! UDP sockets with the kernel receive buffer they need.

use std::io;
use std::net::SocketAddr;
use tokio::net::UdpSocket;

/// Binds a UDP socket on `addr` with a kernel receive buffer of `recv_buffer` bytes: the
/// queue that takes a burst (or a flood) while the reader catches up. At the default of
/// about 200 KiB, a few hundred small datagrams fill it and what comes next is lost.
pub fn bind(addr: SocketAddr, recv_buffer: usize) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // The kernel may cap this at net.core.rmem_max; a smaller buffer still works.
    let _ = socket.set_recv_buffer_size(recv_buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}
