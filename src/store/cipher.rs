//! Reversible encryption of passwords and shared secrets at rest (AES-256-GCM).
//!
//! PAP, CHAP and the Srun portal's HMAC-MD5 all need the plain password, so it cannot be
//! hashed; it is sealed with a key that lives only in the data directory (mode 0600).
//! Each sealed value is bound to its row (`user:NAME`) so values cannot be swapped.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fs::OpenOptions;
use std::io::{self, Write};
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
    /// The database was sealed with a key and the data directory has none.
    #[error(
        "{path} is missing, but this database's passwords and secrets are sealed (expected \
         key: {expected}): copy secret.key from the data directory of a node that serves \
         this database (or from the backup this data directory came from) to {path}, then \
         start again"
    )]
    MissingKey {
        /// Where the key belongs.
        path: PathBuf,
        /// The fingerprint the database records, or which value the key must open.
        expected: String,
    },
    /// The data directory's key is not the one the database was sealed with.
    #[error(
        "{path} is not the key this database is sealed with (expected key: {expected}; \
         this file's: {found}): copy secret.key from the data directory of a node that \
         serves this database (or from the backup this data directory came from) over \
         {path}, then start again"
    )]
    WrongKey {
        /// The key file.
        path: PathBuf,
        /// The fingerprint the database records, or which value the key must open.
        expected: String,
        /// The fingerprint of the file's key.
        found: String,
    },
}

/// The data directory's AES-256-GCM key.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
    fingerprint: String,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cipher({})", self.fingerprint)
    }
}

/// The key file of a data directory.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// Creates the data directory, mode 0700, if it does not exist.
pub fn make_data_dir(data_dir: &Path) -> Result<(), CipherError> {
    if data_dir.exists() {
        return Ok(());
    }
    let io_err = |source| CipherError::KeyFile {
        path: key_path(data_dir),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(io_err)?;
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700)).map_err(io_err)
}

impl Cipher {
    /// Reads `<data_dir>/secret.key`; None if there is no such file.
    pub fn load(data_dir: &Path) -> Result<Option<Cipher>, CipherError> {
        let path = key_path(data_dir);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CipherError::KeyFile { path, source }),
        };
        let key: [u8; 32] = bytes.try_into().map_err(|_| CipherError::BadKey(path))?;
        Ok(Some(Cipher::new(&key)))
    }

    /// Creates `<data_dir>/secret.key` (and the directory, mode 0700) with a fresh random
    /// key; if another process created it first, reads that one.
    pub fn create(data_dir: &Path) -> Result<Cipher, CipherError> {
        let path = key_path(data_dir);
        let io_err = |source| CipherError::KeyFile {
            path: path.clone(),
            source,
        };
        make_data_dir(data_dir)?;
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
                Ok(Cipher::new(&key))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Cipher::load(data_dir)?
                .ok_or_else(|| io_err(io::Error::from(io::ErrorKind::NotFound))),
            Err(e) => Err(io_err(e)),
        }
    }

    fn new(key: &[u8; 32]) -> Cipher {
        // A hash of the key under a label of its own: it tells keys apart and reveals
        // nothing of the key (nor of what it seals).
        let digest = Sha256::new()
            .chain_update(b"turnstile secret.key fingerprint\0")
            .chain_update(key)
            .finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Cipher {
            aead: Aes256Gcm::new(key.into()),
            fingerprint: format!("sha256:{hex}"),
        }
    }

    /// What tells this key from another (`sha256:` and 32 hex digits), never the key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Seals `plain` for the row named by `context` (e.g. `user:alice`).
    #[allow(
        clippy::expect_used,
        reason = "AES-GCM fails only past 64 GiB of plaintext"
    )]
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
        let a = Cipher::create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = a.seal("user:alice", b"correct horse");
        assert!(!sealed.windows(13).any(|w| w == b"correct horse"));
        let b = Cipher::load(dir.path()).unwrap().unwrap();
        assert_eq!(b.open("user:alice", &sealed).unwrap(), b"correct horse");
        assert!(b.open("user:bob", &sealed).is_err());
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), "sha256:".len() + 32);
        let other = tempfile::tempdir().unwrap();
        let c = Cipher::create(other.path()).unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn a_missing_key_is_not_created_by_load() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Cipher::load(dir.path()).unwrap().is_none());
        assert!(!key_path(dir.path()).exists());
        std::fs::write(key_path(dir.path()), b"short").unwrap();
        assert!(matches!(
            Cipher::load(dir.path()),
            Err(CipherError::BadKey(_))
        ));
    }
}
