//! Any text through the parsers of attribute and catalog fields: MAC addresses
//! (Calling-Station-Id), NAS-Port-Id VLANs, time windows, address ranges, time zones.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnstile::auth::nas_port::Vlans;
use turnstile::catalog::TimeWindow;
use turnstile::clock::Zone;
use turnstile::mac::MacAddr;

fuzz_target!(|data: &[u8]| {
    let _ = MacAddr::from_station_id(data);
    let vlans = Vlans::from_nas_port_id(data);
    for id in [vlans.outer, vlans.inner].into_iter().flatten() {
        assert!((1..=4094).contains(&id), "VLAN {id}");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mac) = text.parse::<MacAddr>() {
        // What parses prints back as something that parses to the same address.
        assert_eq!(mac.to_string().parse::<MacAddr>().ok(), Some(mac));
    }
    let _ = text.parse::<TimeWindow>();
    let _ = text.parse::<Zone>();
    let _ = turnstile::address::parse_address_range(text);
});
