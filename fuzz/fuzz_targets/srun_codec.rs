//! The Srun portal codec on any input: base64 and xencode round-trip, and any `info`
//! value decodes or is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnstile::proto::srun::{
    base64_decode, base64_encode, decode_info, encode_info, xdecode, xencode,
};

fuzz_target!(|data: &[u8]| {
    // The first byte says how much of the rest is the challenge.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let (challenge, message) = rest.split_at((split as usize).min(rest.len()));
    if !message.is_empty() {
        let cipher = xencode(message, challenge);
        assert_eq!(xdecode(&cipher, challenge).ok().as_deref(), Some(message));
    }
    let _ = xdecode(message, challenge);
    assert_eq!(
        base64_decode(&base64_encode(message)).as_deref(),
        Some(message)
    );
    if let (Ok(text), Ok(challenge)) =
        (std::str::from_utf8(message), std::str::from_utf8(challenge))
    {
        if let Some(bytes) = base64_decode(text) {
            let _ = base64_encode(&bytes);
        }
        let _ = decode_info(text, challenge);
        if !text.contains(' ') {
            let info = encode_info(text, challenge);
            let back = decode_info(&info, challenge).ok();
            assert!(text.is_empty() || back.as_deref() == Some(text.as_bytes()));
        }
    }
});
