//! Datagrams read and written in batches (`recvmmsg`, `sendmmsg`): one system call for up
//! to [`BATCH`] requests and one for their replies, instead of two per request. Under
//! load a worker finds many datagrams waiting and takes them at once; when idle it still
//! answers each as soon as it arrives (`MSG_WAITFORONE`).
//!
//! One of the crate's few unsafe sites: the two system calls and the C structures they
//! fill, each block with its SAFETY note.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;

use socket2::SockAddr;

use crate::proto::radius::packet::MAX_PACKET_LEN;

/// Datagrams taken by one call.
pub const BATCH: usize = 32;

/// Room for one datagram: one byte more than the largest packet, to tell an oversized
/// one.
const SLOT: usize = MAX_PACKET_LEN + 1;

/// Points `msg` at one buffer (`iov`) and one address (`name`, `namelen` bytes).
fn point(
    msg: &mut libc::mmsghdr,
    iov: &mut libc::iovec,
    name: *mut libc::c_void,
    namelen: libc::socklen_t,
) {
    msg.msg_hdr.msg_name = name;
    msg.msg_hdr.msg_namelen = namelen;
    msg.msg_hdr.msg_iov = iov;
    msg.msg_hdr.msg_iovlen = 1;
}

/// Buffers for one batch of received datagrams.
pub struct Received {
    data: Box<[u8]>,
    lens: [usize; BATCH],
    from: Vec<Option<SocketAddr>>,
    count: usize,
}

impl Default for Received {
    fn default() -> Self {
        Received {
            data: vec![0u8; SLOT * BATCH].into_boxed_slice(),
            lens: [0; BATCH],
            from: vec![None; BATCH],
            count: 0,
        }
    }
}

impl Received {
    /// Waits (up to the socket's read timeout) for at least one datagram, then takes all
    /// that are waiting, up to [`BATCH`]; returns how many.
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.recv_at_most(socket, BATCH)
    }

    /// Takes up to `most` (at most [`BATCH`]) datagrams; on a non-blocking socket with
    /// none waiting, fails with `WouldBlock`.
    pub fn recv_at_most(&mut self, socket: &impl AsRawFd, most: usize) -> io::Result<usize> {
        // SAFETY: zeroed sockaddr_storage, iovec and mmsghdr are valid values (plain C
        // structs of integers and null pointers).
        let mut addrs: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
        let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for (i, chunk) in self.data.chunks_exact_mut(SLOT).enumerate() {
            iovecs[i] = libc::iovec {
                iov_base: chunk.as_mut_ptr().cast(),
                iov_len: SLOT,
            };
            point(
                &mut msgs[i],
                &mut iovecs[i],
                (&mut addrs[i] as *mut libc::sockaddr_storage).cast(),
                size_of::<libc::sockaddr_storage>() as libc::socklen_t,
            );
        }
        // SAFETY: every message points at live buffers of the lengths given, which
        // outlive the call; the kernel writes at most that much into each.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                most.clamp(1, BATCH) as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            self.count = 0;
            return Err(io::Error::last_os_error());
        }
        self.count = n as usize;
        for i in 0..self.count {
            self.lens[i] = msgs[i].msg_len as usize;
            // SAFETY: the kernel filled addrs[i] and set msg_namelen to its length.
            let addr = unsafe { SockAddr::new(addrs[i], msgs[i].msg_hdr.msg_namelen) };
            self.from[i] = addr.as_socket();
        }
        Ok(self.count)
    }

    /// The datagrams of the last batch with their sources (those of an address family
    /// other than IP are left out).
    pub fn datagrams(&self) -> impl Iterator<Item = (&[u8], SocketAddr)> {
        (0..self.count).filter_map(|i| {
            let from = self.from[i]?;
            Some((&self.data[i * SLOT..i * SLOT + self.lens[i]], from))
        })
    }
}

/// Replies gathered while a batch is handled, sent together.
#[derive(Default)]
pub struct Replies {
    queued: Vec<(Arc<[u8]>, SockAddr)>,
}

impl Replies {
    /// Queues `reply` to `to`.
    pub fn push(&mut self, reply: Arc<[u8]>, to: SocketAddr) {
        self.queued.push((reply, SockAddr::from(to)));
    }

    /// Sends everything queued, in as few calls as the kernel allows; returns how many
    /// replies could not be sent.
    pub fn flush(&mut self, socket: &impl AsRawFd) -> usize {
        let mut failed = 0;
        let mut sent = 0;
        while sent < self.queued.len() {
            let chunk = &self.queued[sent..self.queued.len().min(sent + BATCH)];
            // SAFETY: as in Received::recv; these point at the queued replies and
            // addresses, which outlive the call and are only read by the kernel.
            let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
            let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
            for (i, (bytes, to)) in chunk.iter().enumerate() {
                iovecs[i] = libc::iovec {
                    iov_base: bytes.as_ptr() as *mut libc::c_void,
                    iov_len: bytes.len(),
                };
                point(
                    &mut msgs[i],
                    &mut iovecs[i],
                    to.as_ptr() as *mut libc::c_void,
                    to.len(),
                );
            }
            // SAFETY: see above.
            let n = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    chunk.len() as libc::c_uint,
                    0,
                )
            };
            if n <= 0 {
                // The first of the chunk failed: skip it, as a lone send_to would.
                tracing::warn!(error = %io::Error::last_os_error(), to = ?chunk[0].1.as_socket(), "reply not sent");
                failed += 1;
                sent += 1;
            } else {
                sent += n as usize;
            }
        }
        self.queued.clear();
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_batch_comes_in_and_its_replies_go_out_in_order() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let to = server.local_addr().unwrap();
        // More than one batch, of different lengths, one oversized.
        for i in 0..40u16 {
            let len = if i == 7 {
                SLOT + 100
            } else {
                20 + usize::from(i)
            };
            client.send_to(&vec![i as u8; len], to).unwrap();
        }
        let mut received = Received::default();
        let mut seen = Vec::new();
        while seen.len() < 40 {
            received.recv(&server).unwrap();
            let mut replies = Replies::default();
            for (datagram, from) in received.datagrams() {
                assert_eq!(from, client.local_addr().unwrap());
                seen.push(datagram.len());
                replies.push(Arc::from(&datagram[..4]), from);
            }
            assert_eq!(replies.flush(&server), 0);
        }
        let expected: Vec<usize> = (0..40)
            .map(|i| if i == 7 { SLOT } else { 20 + i })
            .collect();
        assert_eq!(seen, expected, "truncated to a slot, in order");
        let mut buf = [0u8; 16];
        for i in 0..40u8 {
            let n = client.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i; 4]);
        }
    }
}
