//! Any bytes as an operator API body: a body read as an object parses as the same JSON
//! by serde_json, and a body refused by the strict reader but taken by serde_json gave a
//! key twice or was not an object; the typed read never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use turnstile::ops::json::{parse_object, BodyError};
use turnstile::ops::users::{NewUser, UserUpdate};

fuzz_target!(|data: &[u8]| {
    let lax = serde_json::from_slice::<Value>(data);
    match parse_object(data) {
        Ok(object) => {
            assert_eq!(lax.ok(), Some(Value::Object(object.clone())));
            let _ = turnstile::ops::from_json::<NewUser>(Value::Object(object.clone()));
            let _ = turnstile::ops::from_json::<UserUpdate>(Value::Object(object));
        }
        Err(BodyError::NotAnObject(_)) => assert!(!lax.expect("valid JSON").is_object()),
        Err(BodyError::Malformed(e)) => {
            if lax.is_ok() {
                assert!(e.to_string().contains("is given twice"), "{e}");
            }
        }
    }
});
