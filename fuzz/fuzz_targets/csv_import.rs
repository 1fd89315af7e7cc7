//! Any file as a CSV user import: accepted rows pass the name and password checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnstile::store::import::{check_name, check_password, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rows) = parse(text) {
        for row in rows {
            assert!(check_name(row.name).is_ok());
            assert!(check_password(row.password).is_ok());
        }
    }
});
