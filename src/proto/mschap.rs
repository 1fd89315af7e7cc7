//! MS-CHAP: the version 1 (RFC 2433) and version 2 (RFC 2759) responses, the version 2
//! authenticator response, the MPPE start keys (RFC 3079 §3) and the layouts of the
//! Microsoft vendor attributes that carry them in RADIUS (RFC 2548), with the salted key
//! hiding of MS-MPPE-Send-Key and MS-MPPE-Recv-Key (RFC 2548 §2.4.2).

use des::cipher::{BlockEncrypt, KeyInit};
use des::Des;
use md4::{Digest, Md4};
use md5::Md5;
use sha1::Sha1;

/// Microsoft's SMI enterprise number (vendor 311).
pub const MICROSOFT: u32 = 311;
/// MS-CHAP-Response (RFC 2548 §2.1.1): version 1's response, 50 bytes.
pub const MS_CHAP_RESPONSE: u8 = 1;
/// MS-CHAP-Error (§2.1.5): why a login failed, for the peer.
pub const MS_CHAP_ERROR: u8 = 2;
/// MS-MPPE-Encryption-Policy (§2.4.4).
pub const MS_MPPE_ENCRYPTION_POLICY: u8 = 7;
/// MS-MPPE-Encryption-Types (§2.4.5).
pub const MS_MPPE_ENCRYPTION_TYPES: u8 = 8;
/// MS-CHAP-Challenge (§2.1.3): 8 bytes for version 1, 16 for version 2.
pub const MS_CHAP_CHALLENGE: u8 = 11;
/// MS-MPPE-Send-Key (§2.4.2).
pub const MS_MPPE_SEND_KEY: u8 = 16;
/// MS-MPPE-Recv-Key (§2.4.3).
pub const MS_MPPE_RECV_KEY: u8 = 17;
/// MS-CHAP2-Response (§2.3.2): version 2's response, 50 bytes.
pub const MS_CHAP2_RESPONSE: u8 = 25;
/// MS-CHAP2-Success (§2.3.3): the authenticator response.
pub const MS_CHAP2_SUCCESS: u8 = 26;

/// The fields of an MS-CHAP-Response (version 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseV1<'a> {
    /// The PPP identifier the reply echoes.
    pub ident: u8,
    /// True when the NT-Response is to be used (the LM one never is).
    pub use_nt: bool,
    /// The 24-byte NT-Response.
    pub nt_response: &'a [u8; 24],
}

impl<'a> ResponseV1<'a> {
    /// Reads the 50-byte value: Ident, Flags, LM-Response (24), NT-Response (24).
    pub fn parse(value: &'a [u8]) -> Option<ResponseV1<'a>> {
        let value: &[u8; 50] = value.try_into().ok()?;
        Some(ResponseV1 {
            ident: value[0],
            use_nt: value[1] & 1 == 1,
            nt_response: value[26..50].try_into().ok()?,
        })
    }
}

/// The fields of an MS-CHAP2-Response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseV2<'a> {
    /// The PPP identifier the reply echoes.
    pub ident: u8,
    /// The peer's 16-byte challenge.
    pub peer_challenge: &'a [u8; 16],
    /// The 24-byte NT-Response.
    pub nt_response: &'a [u8; 24],
}

impl<'a> ResponseV2<'a> {
    /// Reads the 50-byte value: Ident, Flags, Peer-Challenge (16), Reserved (8),
    /// NT-Response (24).
    pub fn parse(value: &'a [u8]) -> Option<ResponseV2<'a>> {
        let value: &[u8; 50] = value.try_into().ok()?;
        Some(ResponseV2 {
            ident: value[0],
            peer_challenge: value[2..18].try_into().ok()?,
            nt_response: value[26..50].try_into().ok()?,
        })
    }
}

/// NtPasswordHash: MD4 of the password in UTF-16LE (RFC 2759 §8.3).
pub fn nt_password_hash(password: &str) -> [u8; 16] {
    let mut md4 = Md4::new();
    for unit in password.encode_utf16() {
        md4.update(unit.to_le_bytes());
    }
    md4.finalize().into()
}

/// HashNtPasswordHash: MD4 of the hash (RFC 2759 §8.4).
pub fn hash_nt_password_hash(hash: &[u8; 16]) -> [u8; 16] {
    Md4::digest(hash).into()
}

/// The user name a challenge hash covers: without a `DOMAIN\` prefix (RFC 2759 §4).
pub fn name_without_domain(user: &[u8]) -> &[u8] {
    match user.iter().rposition(|&b| b == b'\\') {
        Some(i) => &user[i + 1..],
        None => user,
    }
}

/// ChallengeHash: the first 8 bytes of SHA-1(peer ‖ authenticator challenge ‖ user name)
/// (RFC 2759 §8.2).
pub fn challenge_hash(peer: &[u8; 16], authenticator: &[u8; 16], user: &[u8]) -> [u8; 8] {
    let mut sha = Sha1::new();
    sha.update(peer);
    sha.update(authenticator);
    sha.update(name_without_domain(user));
    let digest: [u8; 20] = sha.finalize().into();
    let mut out = [0; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// ChallengeResponse: the challenge DES-encrypted under the three 7-byte thirds of the
/// zero-padded hash (RFC 2759 §8.5, the same in RFC 2433 for version 1).
pub fn challenge_response(challenge: &[u8; 8], hash: &[u8; 16]) -> [u8; 24] {
    let mut padded = [0u8; 21];
    padded[..16].copy_from_slice(hash);
    let mut out = [0u8; 24];
    for (third, block) in padded.chunks_exact(7).zip(out.chunks_exact_mut(8)) {
        let mut key = [0u8; 7];
        key.copy_from_slice(third);
        let cipher = Des::new(&des_key(&key).into());
        let mut data = (*challenge).into();
        cipher.encrypt_block(&mut data);
        block.copy_from_slice(&data);
    }
    out
}

/// Spreads 56 key bits over 8 bytes, 7 per byte, odd parity in the low bit (RFC 2759 §8.6).
fn des_key(seven: &[u8; 7]) -> [u8; 8] {
    let bits = seven.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    let mut key = [0u8; 8];
    for (i, byte) in key.iter_mut().enumerate() {
        let high = ((bits >> (49 - 7 * i)) & 0x7F) as u8;
        let parity = u8::from(high.count_ones().is_multiple_of(2));
        *byte = high << 1 | parity;
    }
    key
}

/// The NT-Response a version 2 peer must send for `password` (GenerateNTResponse,
/// RFC 2759 §8.1).
pub fn nt_response_v2(
    authenticator: &[u8; 16],
    peer: &[u8; 16],
    user: &[u8],
    password_hash: &[u8; 16],
) -> [u8; 24] {
    challenge_response(&challenge_hash(peer, authenticator, user), password_hash)
}

const MAGIC1: &[u8] = b"Magic server to client signing constant";
const MAGIC2: &[u8] = b"Pad to make it do more than one iteration";

/// The authenticator response `S=` and 40 upper-case hex digits that proves to the peer
/// that the server knows the password too (GenerateAuthenticatorResponse, RFC 2759 §8.7).
pub fn authenticator_response(
    password_hash: &[u8; 16],
    nt_response: &[u8; 24],
    peer: &[u8; 16],
    authenticator: &[u8; 16],
    user: &[u8],
) -> [u8; 42] {
    let mut sha = Sha1::new();
    sha.update(hash_nt_password_hash(password_hash));
    sha.update(nt_response);
    sha.update(MAGIC1);
    let digest = sha.finalize();
    let mut sha = Sha1::new();
    sha.update(digest);
    sha.update(challenge_hash(peer, authenticator, user));
    sha.update(MAGIC2);
    let digest: [u8; 20] = sha.finalize().into();
    let mut out = [0u8; 42];
    out[..2].copy_from_slice(b"S=");
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for (i, b) in digest.iter().enumerate() {
        out[2 + 2 * i] = HEX[usize::from(b >> 4)];
        out[3 + 2 * i] = HEX[usize::from(b & 0xF)];
    }
    out
}

/// The MPPE start keys of a version 2 login, as the server uses them (RFC 3079 §3.4):
/// what it sends with (MS-MPPE-Send-Key) and what it receives with (MS-MPPE-Recv-Key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MppeKeys {
    /// The server's send key.
    pub send: [u8; 16],
    /// The server's receive key.
    pub recv: [u8; 16],
}

const MASTER_MAGIC: &[u8] = b"This is the MPPE Master Key";
const KEY_MAGIC2: &[u8] =
    b"On the client side, this is the send key; on the server side, it is the receive key.";
const KEY_MAGIC3: &[u8] =
    b"On the client side, this is the receive key; on the server side, it is the send key.";

impl MppeKeys {
    /// GetMasterKey then GetAsymmetricStartKey for each direction (RFC 3079 §3.3, §3.4).
    pub fn v2(password_hash: &[u8; 16], nt_response: &[u8; 24]) -> MppeKeys {
        let mut sha = Sha1::new();
        sha.update(hash_nt_password_hash(password_hash));
        sha.update(nt_response);
        sha.update(MASTER_MAGIC);
        let digest: [u8; 20] = sha.finalize().into();
        let start_key = |magic: &[u8]| {
            let mut sha = Sha1::new();
            sha.update(&digest[..16]);
            sha.update([0u8; 40]);
            sha.update(magic);
            sha.update([0xF2u8; 40]);
            let digest: [u8; 20] = sha.finalize().into();
            let mut key = [0u8; 16];
            key.copy_from_slice(&digest[..16]);
            key
        };
        MppeKeys {
            send: start_key(KEY_MAGIC3),
            recv: start_key(KEY_MAGIC2),
        }
    }
}

/// Hides an MPPE key for MS-MPPE-Send-Key or MS-MPPE-Recv-Key (RFC 2548 §2.4.2): the
/// salt (its high bit set; unique per attribute in a packet), then the length byte, the
/// key and zero padding to a multiple of 16, each block XORed with MD5(secret ‖ request
/// authenticator ‖ salt), then MD5(secret ‖ previous cipher block).
pub fn hide_key(key: &[u8], secret: &[u8], request_authenticator: &[u8; 16], salt: u16) -> Vec<u8> {
    let salt = (salt | 0x8000).to_be_bytes();
    let mut plain = Vec::with_capacity(1 + key.len() + 15);
    plain.push(key.len() as u8);
    plain.extend_from_slice(key);
    plain.resize(plain.len().div_ceil(16) * 16, 0);
    let mut out = Vec::with_capacity(2 + plain.len());
    out.extend_from_slice(&salt);
    for (i, block) in plain.chunks(16).enumerate() {
        let mut md5 = Md5::new();
        md5.update(secret);
        if i == 0 {
            md5.update(request_authenticator);
            md5.update(salt);
        } else {
            md5.update(&out[out.len() - 16..]);
        }
        let pad: [u8; 16] = md5.finalize().into();
        out.extend(block.iter().zip(pad).map(|(p, b)| p ^ b));
    }
    out
}

/// The value of MS-CHAP-Error: the identifier, then `E=<error> R=0 C=<challenge in hex>
/// V=3 M=<message>` (RFC 2759 §6); no retry is offered, so that a wrong guess costs a new
/// login.
pub fn error_value(ident: u8, error: u16, challenge: &[u8], message: &str) -> Vec<u8> {
    let hex: String = challenge.iter().map(|b| format!("{b:02X}")).collect();
    let mut out = vec![ident];
    out.extend_from_slice(format!("E={error} R=0 C={hex} V=3 M={message}").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex<const N: usize>(text: &str) -> [u8; N] {
        let bytes: Vec<u8> = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    // RFC 2759 §9.2.
    const AUTH: &str = "5B5D7C7D7B3F2F3E3C2C602132262628";
    const PEER: &str = "21402324255E262A28295F2B3A337C7E";
    const NT_RESPONSE: &str = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF";

    #[test]
    fn version_2_matches_rfc2759_section_9_2() {
        let hash = nt_password_hash("clientPass");
        assert_eq!(hash, hex::<16>("44EBBA8D5312B8D611474411F56989AE"));
        assert_eq!(
            hash_nt_password_hash(&hash),
            hex::<16>("41C00C584BD2D91C4017A2A12FA59F3F")
        );
        let (auth, peer) = (hex::<16>(AUTH), hex::<16>(PEER));
        assert_eq!(
            challenge_hash(&peer, &auth, b"User"),
            hex::<8>("D02E4386BCE91226")
        );
        let nt = nt_response_v2(&auth, &peer, b"User", &hash);
        assert_eq!(nt, hex::<24>(NT_RESPONSE));
        assert_eq!(
            &authenticator_response(&hash, &nt, &peer, &auth, b"User"),
            b"S=407A5589115FD0D6209F510FE9C04566932CDA56"
        );
        // A domain prefix is not part of the hash.
        assert_eq!(nt_response_v2(&auth, &peer, b"CORP\\User", &hash), nt);
    }

    #[test]
    fn des_keys_match_rfc2759_section_9_3() {
        assert_eq!(
            des_key(&hex::<7>("FC156AF7EDCD6C")),
            hex::<8>("FD0B5B5E7F6E34D9")
        );
        assert_eq!(
            des_key(&hex::<7>("0EDDE3337D427F")),
            hex::<8>("0E6E796737EA08FE")
        );
        assert_eq!(
            nt_password_hash("MyPw"),
            hex::<16>("FC156AF7EDCD6C0EDDE3337D427F4EAC")
        );
    }

    #[test]
    fn mppe_keys_match_rfc3079_section_3_5() {
        let keys = MppeKeys::v2(&nt_password_hash("clientPass"), &hex::<24>(NT_RESPONSE));
        assert_eq!(keys.send, hex::<16>("8B7CDC149B993A1BA118CB153F56DCCB"));
        assert_eq!(keys.recv, hex::<16>("D5F0E9521E3EA9589645E86051C82226"));
    }

    #[test]
    fn a_captured_freeradius_accept_is_reproduced() {
        // User "bob", password "hello", as FreeRADIUS 3.2 answered it.
        let auth = hex::<16>("00112233445566778899aabbccddeeff");
        let peer = hex::<16>("0f0e0d0c0b0a09080706050403020100");
        let nt = hex::<24>("d2949707add1f3d9856cf52209b494938ddcd19011de8686");
        let hash = nt_password_hash("hello");
        assert_eq!(nt_response_v2(&auth, &peer, b"bob", &hash), nt);
        assert_eq!(
            &authenticator_response(&hash, &nt, &peer, &auth, b"bob"),
            b"S=A4454730DCE7A4A89B3C1FE01C395EEC8FB368F9"
        );
        let keys = MppeKeys::v2(&hash, &nt);
        assert_eq!(keys.recv, hex::<16>("aaf0f5cc335797139783fe987e2e208f"));
        assert_eq!(keys.send, hex::<16>("781eb620c5b954344898f243af7680ba"));
        // Its hidden keys: secret testing123, salts e1e1 and ef19.
        let request = hex::<16>("51732f6aeac8d63a4b9adbe1da82d146");
        assert_eq!(
            hide_key(&keys.recv, b"testing123", &request, 0xe1e1),
            [
                &[0xe1, 0xe1][..],
                &hex::<32>("f6fa7f3feea733f759fe02d31281bd6a84607d4d90b0311b6cb7e14f4f24ff7e")
            ]
            .concat()
        );
        assert_eq!(
            hide_key(&keys.send, b"testing123", &request, 0xef19),
            [
                &[0xef, 0x19][..],
                &hex::<32>("6552bbea45b08bf59adf6cfc2d7272170cb03078dda859a7916860e4dd2822be")
            ]
            .concat()
        );
    }

    #[test]
    fn responses_are_read_at_their_offsets_and_only_at_50_bytes() {
        let mut value = [0u8; 50];
        value[0] = 0x42;
        value[1] = 1;
        value[2..18].copy_from_slice(&[7; 16]);
        value[26..].copy_from_slice(&[9; 24]);
        let v2 = ResponseV2::parse(&value).unwrap();
        assert_eq!(
            (v2.ident, v2.peer_challenge, v2.nt_response),
            (0x42, &[7; 16], &[9; 24])
        );
        let v1 = ResponseV1::parse(&value).unwrap();
        assert!(v1.use_nt);
        assert_eq!(v1.nt_response, &[9; 24]);
        assert!(ResponseV2::parse(&value[..49]).is_none());
        assert!(ResponseV1::parse(&[0; 51]).is_none());
    }

    #[test]
    fn the_error_names_the_code_and_offers_no_retry() {
        let value = error_value(3, 691, &[0xAB; 16], "E2553: wrong");
        assert_eq!(value[0], 3);
        assert_eq!(
            &value[1..],
            b"E=691 R=0 C=ABABABABABABABABABABABABABABABAB V=3 M=E2553: wrong"
        );
    }
}
