//! Reversible encryption of passwords and shared secrets at rest (AES-256-GCM).
//!
//! PAP, CHAP and the Srun portal's HMAC-MD5 all need the plain password, so it cannot be
//! hashed; it is sealed with a key that lives only in the data directory (mode 0600).
//! Each sealed value is bound to its row (`user:NAME`) so values cannot be swapped.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

const KEY_FILE: &str = "secret.key";
const NONCE_LEN: usize = 12;

/// Errors of the key file and of unsealing.
#[derive(Debug, Error)]
pub enum CipherError {
    /// The key file cannot be created or read.
    #[error("key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The key file does not hold 32 bytes.
    #[error("key file {0} is not a 32-byte key")]
    BadKey(PathBuf),
    /// A sealed value is damaged or was sealed with another key or for another row.
    #[error("a sealed value cannot be opened with this data directory's key")]
    Unseal,
}

/// The data directory's AES-256-GCM key.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(*redacted*)")
    }
}

impl Cipher {
    /// Reads `<data_dir>/secret.key`, creating it (and the directory, mode 0700) with a
    /// fresh random key if it does not exist yet.
    pub fn open_or_create(data_dir: &Path) -> Result<Cipher, CipherError> {
        let path = data_dir.join(KEY_FILE);
        let io_err = |source| CipherError::KeyFile {
            path: path.clone(),
            source,
        };
        if !data_dir.exists() {
            std::fs::create_dir_all(data_dir).map_err(io_err)?;
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io_err)?;
        }
        let mut key = [0u8; 32];
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                rand::rngs::OsRng.fill_bytes(&mut key);
                file.write_all(&key).map_err(io_err)?;
                file.sync_all().map_err(io_err)?;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let mut bytes = Vec::new();
                std::fs::File::open(&path)
                    .and_then(|mut f| f.read_to_end(&mut bytes))
                    .map_err(io_err)?;
                key = bytes
                    .try_into()
                    .map_err(|_| CipherError::BadKey(path.clone()))?;
            }
            Err(e) => return Err(io_err(e)),
        }
        Ok(Cipher {
            aead: Aes256Gcm::new(&key.into()),
        })
    }

    /// Seals `plain` for the row named by `context` (e.g. `user:alice`).
    pub fn seal(&self, context: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain,
            aad: context.as_bytes(),
        };
        let sealed = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM encryption of a short value cannot fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    /// Opens a value sealed by [`Cipher::seal`] for the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CipherError> {
        if sealed.len() < NONCE_LEN {
            return Err(CipherError::Unseal);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let payload = Payload {
            msg: body,
            aad: context.as_bytes(),
        };
        self.aead
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| CipherError::Unseal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_with_mode_0600_and_values_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let a = Cipher::open_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = a.seal("user:alice", b"correct horse");
        assert!(!sealed.windows(13).any(|w| w == b"correct horse"));
        let b = Cipher::open_or_create(dir.path()).unwrap();
        assert_eq!(b.open("user:alice", &sealed).unwrap(), b"correct horse");
        assert!(b.open("user:bob", &sealed).is_err());
    }
}
