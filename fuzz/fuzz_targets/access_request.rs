//! Any datagram from a known NAS on the authentication port, through the whole
//! Access-Request path up to the reply: a directory with one user and the starter
//! catalog, the policy, the throttle. Every datagram is answered or dropped with a
//! reason; an answer is signed with the NAS's secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use turnstile::proto::radius::packet::Packet;
use turnstile::radius::access::{answer, AccessRequest};
use turnstile::proto::radius::crypto::verify_response;

#[path = "../fixture/mod.rs"]
mod fixture;

fn context() -> &'static fixture::Fixture {
    static FIXTURE: OnceLock<fixture::Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| fixture::fixture("access"))
}

fuzz_target!(|data: &[u8]| {
    let service = &context().service;
    let clients = service.directory().clients();
    let source = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let client = clients.lookup(source).expect("the fuzz NAS").clone();
    let Ok(packet) = Packet::parse(data) else {
        return;
    };
    let request = AccessRequest {
        packet,
        client: &client,
        source: SocketAddr::new(source, 1812),
        received: std::time::Instant::now(),
    };
    if let Ok(reply) = answer(&request, service) {
        let authenticator: [u8; 16] = data[4..20].try_into().expect("a parsed header");
        assert!(verify_response(
            &reply.bytes,
            &authenticator,
            fixture::SECRET.as_bytes()
        ));
    }
});
