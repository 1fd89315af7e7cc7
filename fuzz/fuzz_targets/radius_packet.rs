//! Any datagram through the RADIUS packet parser: it is parsed or refused, never a panic,
//! and every attribute of a parsed packet lies inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnstile::proto::radius::packet::Packet;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::parse(data) else {
        return;
    };
    let _ = (packet.code(), packet.identifier(), packet.authenticator());
    let mut covered = 20;
    for attribute in packet.attributes() {
        covered += 2 + attribute.value.len();
        let _ = packet.first(attribute.typ);
    }
    assert!(covered <= packet.bytes().len());
});
