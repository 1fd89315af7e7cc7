//! The algorithms of the Srun portal protocol, written from its description and checked
//! against captured and published vectors:
//!
//! - `info` = `{SRBX1}` + Srun-base64(xencode(JSON, challenge)) — [`decode_info`] and
//!   [`encode_info`];
//! - `xencode`, Srun's XXTEA variant (not textbook XXTEA: the grouping of `+` and `^` in
//!   the mixing function differs, and the length travels as a last word);
//! - Srun base64: standard base64 with a permuted alphabet;
//! - `chksum` = SHA-1 of `T+username T+hmd5 T+ac_id T+ip T+n T+type T+info`;
//! - the signed logout's `sign` = SHA-1 of `time + username + ip + unbind + time`.

use sha1::{Digest, Sha1};
use thiserror::Error;

/// The alphabet of Srun base64, in place of `A–Z a–z 0–9 + /`.
const ALPHABET: &[u8; 64] = b"LVoJPiCN2R8G90yg+hmFHuacZ1OWMnrsSTXkYpUq/3dlbfKwv6xztjI7DeBE45QA";
/// The prefix of the `info` parameter.
pub const INFO_PREFIX: &str = "{SRBX1}";
const DELTA: u32 = 0x9E37_79B9;

/// Why an `info` value cannot be read (the portal answers `auth_info_error`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// Not `{SRBX1}` followed by Srun base64.
    #[error("info is not {{SRBX1}} + Srun base64")]
    Encoding,
    /// The decrypted length word does not fit the data (wrong challenge, or garbage).
    #[error("info does not decrypt with this challenge")]
    Decryption,
}

/// Encodes bytes in Srun base64 (with `=` padding).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes Srun base64; None on a character outside the alphabet or a bad length.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=').as_bytes();
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = ALPHABET.iter().position(|&a| a == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Little-endian 32-bit words of `bytes` (missing bytes count as 0).
fn words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

fn to_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// The first four key words of the challenge (zeros where it is shorter).
fn key(challenge: &[u8]) -> [u32; 4] {
    let mut k = [0u32; 4];
    for (slot, w) in k.iter_mut().zip(words(challenge)) {
        *slot = w;
    }
    k
}

fn mx(z: u32, y: u32, sum: u32, k: u32) -> u32 {
    ((z >> 5) ^ (y << 2))
        .wrapping_add(((y >> 3) ^ (z << 4)) ^ (sum ^ y))
        .wrapping_add(k ^ z)
}

/// Encrypts `message` with `challenge` as the client does.
pub fn xencode(message: &[u8], challenge: &[u8]) -> Vec<u8> {
    if message.is_empty() {
        return Vec::new();
    }
    let mut v = words(message);
    v.push(message.len() as u32);
    let k = key(challenge);
    let n = v.len() - 1;
    let mut z = v[n];
    let mut sum = 0u32;
    for _ in 0..6 + 52 / (n + 1) {
        sum = sum.wrapping_add(DELTA);
        let e = (sum >> 2 & 3) as usize;
        for p in 0..=n {
            let y = v[(p + 1) % (n + 1)];
            v[p] = v[p].wrapping_add(mx(z, y, sum, k[(p & 3) ^ e]));
            z = v[p];
        }
    }
    to_bytes(&v)
}

/// Decrypts what [`xencode`] produced.
pub fn xdecode(cipher: &[u8], challenge: &[u8]) -> Result<Vec<u8>, CodecError> {
    if cipher.len() < 8 || !cipher.len().is_multiple_of(4) {
        return Err(CodecError::Decryption);
    }
    let mut v = words(cipher);
    let k = key(challenge);
    let n = v.len() - 1;
    let rounds = (6 + 52 / (n + 1)) as u32;
    let mut sum = rounds.wrapping_mul(DELTA);
    let mut y = v[0];
    while sum != 0 {
        let e = (sum >> 2 & 3) as usize;
        for p in (1..=n).rev() {
            let z = v[p - 1];
            v[p] = v[p].wrapping_sub(mx(z, y, sum, k[(p & 3) ^ e]));
            y = v[p];
        }
        let z = v[n];
        v[0] = v[0].wrapping_sub(mx(z, y, sum, k[e]));
        y = v[0];
        sum = sum.wrapping_sub(DELTA);
    }
    let m = v[n] as usize;
    if m > 4 * n || m + 3 < 4 * n {
        return Err(CodecError::Decryption);
    }
    let mut bytes = to_bytes(&v[..n]);
    bytes.truncate(m);
    Ok(bytes)
}

/// `{SRBX1}` + Srun base64 of `xencode(json, challenge)`.
pub fn encode_info(json: &str, challenge: &str) -> String {
    format!(
        "{INFO_PREFIX}{}",
        base64_encode(&xencode(json.as_bytes(), challenge.as_bytes()))
    )
}

/// The JSON text inside an `info` value. A `+` that arrived as a space (an unescaped
/// query) is taken back.
pub fn decode_info(info: &str, challenge: &str) -> Result<Vec<u8>, CodecError> {
    let body = info.strip_prefix(INFO_PREFIX).ok_or(CodecError::Encoding)?;
    let body = body.replace(' ', "+");
    let cipher = base64_decode(&body).ok_or(CodecError::Encoding)?;
    xdecode(&cipher, challenge.as_bytes())
}

fn sha1_hex(parts: &[&str]) -> String {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The login parameters the chksum covers, as sent.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// `username`.
    pub username: &'a str,
    /// `password` without its `{MD5}` tag.
    pub hmd5: &'a str,
    /// `ac_id`.
    pub ac_id: &'a str,
    /// `ip`.
    pub ip: &'a str,
    /// `n` (`200`).
    pub n: &'a str,
    /// `type` (`1`).
    pub typ: &'a str,
    /// `info`, with its `{SRBX1}` prefix.
    pub info: &'a str,
}

/// The login's chksum.
pub fn chksum(challenge: &str, s: &Signed<'_>) -> String {
    let t = challenge;
    sha1_hex(&[
        t, s.username, t, s.hmd5, t, s.ac_id, t, s.ip, t, s.n, t, s.typ, t, s.info,
    ])
}

/// A client's side of a login, as the official page computes it: the `info` carrying
/// `username` and `password` from `ip` on `ac_id`, and the chksum over the query with
/// `hmd5` (normally [`hmac_md5_hex`] of the challenge keyed by the password). Returns
/// (info, chksum). The benchmark and tests log in with it; the server only checks.
pub fn client_login(
    challenge: &str,
    username: &str,
    password: &str,
    ip: &str,
    ac_id: &str,
    hmd5: &str,
) -> (String, String) {
    let text = |v: &str| serde_json::Value::from(v).to_string();
    let json = format!(
        r#"{{"username":{},"password":{},"ip":{},"acid":{},"enc_ver":"srun_bx1"}}"#,
        text(username),
        text(password),
        text(ip),
        text(ac_id)
    );
    let info = encode_info(&json, challenge);
    let sum = chksum(
        challenge,
        &Signed {
            username,
            hmd5,
            ac_id,
            ip,
            n: "200",
            typ: "1",
            info: &info,
        },
    );
    (info, sum)
}

/// The signed logout's sign.
pub fn dm_sign(time: &str, username: &str, ip: &str, unbind: &str) -> String {
    sha1_hex(&[time, username, ip, unbind, time])
}

/// HMAC-MD5 in lowercase hex: what most clients send as `hmd5` (key = challenge, message
/// = password). The server does not check it; the login page sends it.
#[allow(clippy::expect_used, reason = "HMAC takes a key of any length")]
pub fn hmac_md5_hex(key: &[u8], message: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<md5::Md5> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn small_vectors() {
        assert_eq!(base64_encode(b"132456"), "9F9x0JHI");
        assert_eq!(base64_encode(&[0, 1, 2, 3, 4, 5]), "LLPoLv+i");
        assert_eq!(base64_encode(b"a"), "Z+==");
        assert_eq!(base64_encode(b"ab"), "Za2=");
        for s in [&b"132456"[..], &[0, 1, 2, 3, 4, 5], b"a", b"ab", b""] {
            assert_eq!(base64_decode(&base64_encode(s)).as_deref(), Some(s));
        }
        let x = xencode(b"a", b"k");
        assert_eq!(hex(&x), "10d188dc61522d85");
        assert_eq!(base64_encode(&x), "P0C27CimGZH=");
        assert_eq!(xdecode(&x, b"k").unwrap(), b"a");
        assert!(xencode(b"", b"k").is_empty());
        assert_eq!(
            dm_sign("1700000000", "alice", "10.0.0.2", "1"),
            "be0eea15ff89260e966055fcf7bf68663661f34a"
        );
        let t = b"711ab370231392679fe06523b119a8fe096f5ed9bd206b4de8d7b5b994bbc3e5";
        assert_eq!(
            hmac_md5_hex(t, b"15879684798qq"),
            "b7cc5da95734d0161fadc8ad87855e75"
        );
        assert_eq!(hmac_md5_hex(t, b""), "3d5e3e9dcca7167e9feca91bd5e723e6");
        assert_eq!(
            hmac_md5_hex(b"15879684798qq", t),
            "2b4f95ac23c3b275bebec770d721c681"
        );
    }

    /// A real capture (ZJU): numeric acid, hmd5 keyed by the password.
    #[test]
    fn vector_a_capture() {
        let t = "517557d10a3aff098a898753317e8ef0b2822540d067490585c41d39d847ed7a";
        let info = "{SRBX1}KxvFtemc1wBEGdNAbPEfd7s02umxP0Nagix+YxJsqbAEh5/fzuIYqad8xrqKW4yzfA9/I3xGKPMTNziE1wPFhfnCaX8CWsnglgKKjVozxsa46BrEY0n4kc/y2rdlbE7wWPBjdWxaZ4yfs8DLRovR7L==";
        let json = r#"{"username":"3220100721","password":"ZJUCTF{Thanks, TLS!}","ip":"10.10.98.98","acid":3,"enc_ver":"srun_bx1"}"#;
        assert_eq!(decode_info(info, t).unwrap(), json.as_bytes());
        assert_eq!(encode_info(json, t), info);
        let hmd5 = "5f9601066c7ee059d8fdf0d710c7bc50";
        let signed = Signed {
            username: "3220100721",
            hmd5,
            ac_id: "3",
            ip: "10.10.98.98",
            n: "200",
            typ: "1",
            info,
        };
        assert_eq!(
            chksum(t, &signed),
            "a5d4e260a6bd874d7036cb1ed3b251aaef3bd522"
        );
        assert_eq!(hmac_md5_hex(b"ZJUCTF{Thanks, TLS!}", t.as_bytes()), hmd5);
        // The same info read with another challenge is refused, not misread.
        let other = "0".repeat(64);
        assert!(decode_info(info, &other).is_err());
        // An unescaped query turns '+' into ' '.
        assert_eq!(
            decode_info(&info.replace('+', " "), t).unwrap(),
            json.as_bytes()
        );
    }

    /// A client's login decodes to the JSON the page sends (values escaped, as
    /// `JSON.stringify` does) and signs over what it sends.
    #[test]
    fn client_login_round_trip() {
        let t = "e6843f26b8544327a3a25978dd3c5f89e6b745df1732993b88fe082c13a34cb9";
        let (info, sum) = client_login(t, "bob", "p\"w\\", "10.0.0.9", "1", "h");
        let json = String::from_utf8(decode_info(&info, t).unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"username":"bob","password":"p\"w\\","ip":"10.0.0.9","acid":"1","enc_ver":"srun_bx1"}"#
        );
        let signed = Signed {
            username: "bob",
            hmd5: "h",
            ac_id: "1",
            ip: "10.0.0.9",
            n: "200",
            typ: "1",
            info: &info,
        };
        assert_eq!(sum, chksum(t, &signed));
    }

    #[test]
    fn vector_b_synthetic() {
        let t = "e6843f26b8544327a3a25978dd3c5f89e6b745df1732993b88fe082c13a34cb9";
        let json = r#"{"username":"201626203044@cmcc","password":"15879684798qq","ip":"10.128.96.249","acid":"1","enc_ver":"srun_bx1"}"#;
        let x = xencode(json.as_bytes(), t.as_bytes());
        assert_eq!(hex(&x), "6692ef6be4753b40b79b8a64ee1894b9fcc76f15cf18e5b9632b0909326e3c724385d8609c6a16be41dea981195cf0ed844c397ec228d6386fba6d0e6b0b993988d2fc8f604646cb46e591d6866537e6a959ba0a9b928726638df97727d303a0a62a9f4ce96004ceda64d8e15e5644894c11531f");
        let info = encode_info(json, t);
        assert_eq!(info, "{SRBX1}13GwOQhjyto7UD3YETXHKszNW6cgCyaeZxbRoFRKgNRJTnTSqC/awYNrdZP1cgJfTPvesb2/jkTwKUtyOvK1yZkmA25ShYWGhKahj/1p0QO3aW/8Ue8NRUy0QcMqtvyS3XdsFypSV9EO10kTcp1PXHvhH64=");
        assert_eq!(decode_info(&info, t).unwrap(), json.as_bytes());
        let hmd5 = hmac_md5_hex(t.as_bytes(), b"15879684798qq");
        assert_eq!(hmd5, "1e56cc417cf72256f1c12d8be42d8a56");
        let signed = Signed {
            username: "201626203044@cmcc",
            hmd5: &hmd5,
            ac_id: "1",
            ip: "10.128.96.249",
            n: "200",
            typ: "1",
            info: &info,
        };
        assert_eq!(
            chksum(t, &signed),
            "ac2f475dfd79d6620a4a4bf3312880ff4ad3ed0f"
        );
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        let t = "e6843f26b8544327a3a25978dd3c5f89e6b745df1732993b88fe082c13a34cb9";
        for info in [
            "",
            "{SRBX1}",
            "{SRBX1}!!!!",
            "{SRBX1}Z",
            "{SRBX1}Z+==",
            "no prefix",
            "{SRBX1}LLPoLv+i",
        ] {
            assert!(decode_info(info, t).is_err(), "{info:?}");
        }
        let mut seed = 7u64;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 33) as u8
                })
                .collect();
            let _ = xdecode(&bytes, t.as_bytes());
            let text: String = bytes
                .iter()
                .map(|&b| ALPHABET[(b & 63) as usize] as char)
                .collect();
            let _ = decode_info(&format!("{INFO_PREFIX}{text}"), t);
        }
    }
}
