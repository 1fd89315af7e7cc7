//! The database knows which `secret.key` sealed it: a node (or a restored data
//! directory) with another key, or none, refuses to start and says what to copy where,
//! instead of serving and refusing every user. On SQLite, or on PostgreSQL when
//! `TURNSTILE_TEST_POSTGRES` is set.

mod common;

use common::{Daemon, Nas};
use radius::core::code::Code;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use turnstile::store::cipher::{key_path, CipherError};
use turnstile::store::{Backend, OpenOptions, StoreError, StoreLocation};

/// A database for one test and a way to run SQL behind the store's back.
struct Database {
    location: StoreLocation,
    _dir: tempfile::TempDir,
}

impl Database {
    /// Blocking: the PostgreSQL database is made on a runtime of its own.
    fn new() -> Database {
        let dir = tempfile::tempdir().unwrap();
        let location = match common::postgres_server() {
            Some(server) => StoreLocation::Postgres(common::fresh_postgres_database(&server)),
            None => StoreLocation::Sqlite(dir.path().join("t.db")),
        };
        Database {
            location,
            _dir: dir,
        }
    }

    async fn open(&self, data_dir: &Path) -> Result<Backend, StoreError> {
        Backend::open(&OpenOptions {
            data_dir: data_dir.to_path_buf(),
            location: self.location.clone(),
        })
        .await
    }

    /// What a database from before key fingerprints looks like.
    async fn forget_fingerprint(&self) {
        let statement = "DELETE FROM meta WHERE key = 'key_fingerprint'";
        match &self.location {
            StoreLocation::Sqlite(path) => {
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            StoreLocation::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_key_is_recorded_and_another_or_none_is_refused() {
    let db = tokio::task::spawn_blocking(Database::new).await.unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    // An empty database records the key of the first node.
    let first = db.open(a.path()).await.unwrap();
    let fingerprint = first.cipher.fingerprint().to_string();
    assert_eq!(
        first.store.key_fingerprint().await.unwrap(),
        Some(fingerprint.clone())
    );
    first
        .store
        .add_user(&first.new_user("alice", b"wonderland"))
        .await
        .unwrap();
    // The same key opens it again.
    assert!(db.open(a.path()).await.is_ok());

    // A node without the key: refused, and no key is made for it.
    match db.open(b.path()).await.err() {
        Some(StoreError::Cipher(CipherError::MissingKey { path, expected })) => {
            assert_eq!(path, key_path(b.path()));
            assert_eq!(expected, fingerprint);
        }
        other => panic!("{other:?}"),
    }
    assert!(!key_path(b.path()).exists());

    // A node with a key of its own: refused with both fingerprints and what to do.
    std::fs::write(key_path(b.path()), [7u8; 32]).unwrap();
    let e = db.open(b.path()).await.err().expect("refused");
    let text = e.to_string();
    match e {
        StoreError::Cipher(CipherError::WrongKey {
            expected, found, ..
        }) => {
            assert_eq!(expected, fingerprint);
            assert_ne!(found, fingerprint);
            assert!(found.starts_with("sha256:"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        text.contains(&key_path(b.path()).display().to_string()),
        "{text}"
    );
    assert!(text.contains("copy secret.key from"), "{text}");

    // The right key copied over: served.
    std::fs::copy(key_path(a.path()), key_path(b.path())).unwrap();
    let second = db.open(b.path()).await.unwrap();
    let alice = second.store.user("alice").await.unwrap().unwrap();
    assert_eq!(
        second
            .cipher
            .open("user:alice", &alice.password_sealed)
            .unwrap(),
        b"wonderland"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_without_a_fingerprint_takes_the_key_that_opens_its_values() {
    let db = tokio::task::spawn_blocking(Database::new).await.unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = db.open(a.path()).await.unwrap();
    first
        .store
        .add_user(&first.new_user("alice", b"wonderland"))
        .await
        .unwrap();
    let fingerprint = first.cipher.fingerprint().to_string();
    drop(first);
    db.forget_fingerprint().await;

    // Another key does not open alice's password: refused, and nothing is recorded.
    std::fs::write(key_path(b.path()), [9u8; 32]).unwrap();
    match db.open(b.path()).await.err() {
        Some(StoreError::Cipher(CipherError::WrongKey { expected, .. })) => {
            assert!(expected.contains("user:alice"), "{expected}")
        }
        other => panic!("{other:?}"),
    }
    // Nor does a missing key get made.
    let c = tempfile::tempdir().unwrap();
    assert!(matches!(
        db.open(c.path()).await.err(),
        Some(StoreError::Cipher(CipherError::MissingKey { .. }))
    ));
    assert!(!key_path(c.path()).exists());

    // The key that sealed it is recorded by the first node that has it.
    let again = db.open(a.path()).await.unwrap();
    assert_eq!(
        again.store.key_fingerprint().await.unwrap(),
        Some(fingerprint)
    );
    assert!(db.open(b.path()).await.is_err());
}

/// Runs `turnstile serve` on `config`, which must exit by itself; its exit status and
/// standard error.
fn serve_refused(config: &Path) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_turnstile"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("turnstile serve started with the wrong key");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status, err)
}

#[test]
fn a_daemon_with_the_wrong_key_exits_with_what_to_copy() {
    let mut d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    let login = nas.pap("alice", "wonderland", true);
    assert_eq!(nas.exchange(&login).code(), Code::AccessAccept);
    d.kill9();
    let key = d.data_dir().join("secret.key");
    let original = std::fs::read(&key).unwrap();

    // Restored with another key.
    std::fs::write(&key, [3u8; 32]).unwrap();
    let config = d.data_dir().parent().unwrap().join("turnstile.toml");
    let (status, err) = serve_refused(&config);
    assert!(!status.success());
    assert!(err.contains(&key.display().to_string()), "{err}");
    assert!(err.contains("expected key: sha256:"), "{err}");
    assert!(err.contains("this file's: sha256:"), "{err}");
    assert!(err.contains("copy secret.key from"), "{err}");

    // Restored without one.
    std::fs::remove_file(&key).unwrap();
    let (status, err) = serve_refused(&config);
    assert!(!status.success());
    assert!(err.contains("is missing"), "{err}");
    assert!(!key.exists(), "no key is made for a sealed database");

    // The right key back: alice logs in again.
    std::fs::write(&key, original).unwrap();
    d.respawn_with(&[]);
    let mut nas = Nas::new("127.0.0.1", &d);
    let login = nas.pap("alice", "wonderland", true);
    assert_eq!(nas.exchange(&login).code(), Code::AccessAccept);
}
