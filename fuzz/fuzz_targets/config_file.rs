//! Any file as the configuration: it loads, or it is refused with an error that names
//! the file or the key. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use turnstile::config::{ConfigError, Settings};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("turnstile-fuzz-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("turnstile.toml");
    std::fs::write(&path, data).expect("a writable temporary directory");
    match Settings::load_with_env(&path, Some(HashMap::new())) {
        Ok(settings) => {
            let _ = turnstile::store::OpenOptions::for_settings(&settings);
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.is_empty());
            if let ConfigError::File { path: named, .. } = &e {
                assert_eq!(named, &path);
            }
        }
    }
});
