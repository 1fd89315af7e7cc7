//! Any bytes as an EAP packet, and any RADIUS packet's EAP-Message attributes joined:
//! nothing panics, a packet that parses writes back to what parses the same, and what
//! is carried is exactly one packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnstile::proto::eap::carriage::{carried, Carried};
use turnstile::proto::eap::EapPacket;
use turnstile::proto::radius::packet::Packet;

fuzz_target!(|data: &[u8]| {
    if let Ok(eap) = EapPacket::parse(data) {
        let bytes = eap.to_bytes();
        assert_eq!(EapPacket::parse(&bytes), Ok(eap));
        assert!(bytes.len() <= data.len());
    }
    if let Ok(packet) = Packet::parse(data) {
        if let Ok(Carried::Packet(bytes)) = carried(&packet) {
            let eap = EapPacket::parse(&bytes).expect("carried bytes are a packet");
            assert_eq!(eap.to_bytes().len(), bytes.len());
        }
    }
});
