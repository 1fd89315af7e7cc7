//! The store's disk full: accounting is not acknowledged (the NAS keeps
//! retransmitting), logins from memory go on, the failure is logged and counted, and the
//! very request the NAS retransmits is acknowledged and stored once the disk takes writes
//! again.
//!
//! The data directory is a small tmpfs mounted for the test, which needs root; elsewhere,
//! and on the PostgreSQL pass (whose files are not the daemon's), the tests say so and
//! pass without running.

mod common;

use common::{postgres_server, Daemon, Nas};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const STORE_FAILED: &str = "turnstile_accounting_dropped_total{reason=\"store_failed\"}";

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        if postgres_server().is_some() {
            eprintln!("skipped: the PostgreSQL pass keeps no store file in the data directory");
            return None;
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data");
        std::fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("mount runs");
        if !status.success() {
            eprintln!("skipped: mount -t tmpfs failed ({status})");
            return None;
        }
        Some(Tmpfs { _dir: dir, path })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A daemon whose data directory is `fs`.
fn daemon_on(fs: &Tmpfs) -> Daemon {
    let data = fs.path.display().to_string();
    Daemon::start_with("", &[("TURNSTILE__GENERAL__DATA_DIR", data.as_str())])
}

/// Fills `dir`'s file system with a file, which is returned.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

/// Logins from memory still get their Accept.
fn logins_go_on(daemon: &Daemon) {
    let mut nas = Nas::new("127.0.0.1", daemon);
    let request = nas.pap("alice", "wonderland", true);
    assert_eq!(
        nas.exchange(&request).code(),
        radius::core::code::Code::AccessAccept
    );
}

/// Retransmits `request` (the same bytes, as a NAS does) until it is acknowledged.
fn retransmit_until_acknowledged(nas: &Nas, request: &common::Request) {
    common::wait_until(
        Duration::from_secs(30),
        || "never acknowledged".into(),
        || nas.try_exchange(request),
    );
}

#[test]
fn disk_full_stops_acknowledging_accounting_until_space_returns() {
    let Some(fs) = Tmpfs::mount("24m") else {
        return;
    };
    let daemon = daemon_on(&fs);
    let mut nas = Nas::accounting("127.0.0.1", &daemon);
    let first = nas.acct(1, "before-full", "alice");
    assert!(
        nas.try_exchange(&first).is_some(),
        "a Start before the disk fills"
    );

    let filler = fill(&fs.path);
    // The WAL may still have room for a few records; Starts go on until one is refused.
    let mut refused = None;
    for n in 0..2000 {
        let request = nas.acct(1, &format!("full-{n}"), "alice");
        if nas.try_exchange(&request).is_none() {
            refused = Some((n, request));
            break;
        }
    }
    let (n, refused) = refused.expect("a Start left unacknowledged on a full disk");
    eprintln!("the disk took {n} more Starts before one was refused");
    assert!(daemon.metric(STORE_FAILED) >= 1.0);
    daemon.wait_log(&["accounting record not stored"]);
    logins_go_on(&daemon);

    // Still refused while the disk is full: the NAS's retransmissions are not answered.
    assert!(nas.try_exchange(&refused).is_none());
    std::fs::remove_file(filler).unwrap();
    retransmit_until_acknowledged(&nas, &refused);
    let id = format!("full-{n}");
    let online = daemon.online(&["session_id"]);
    assert!(
        online
            .iter()
            .any(|row| row[0].as_deref() == Some(id.as_str())),
        "{id} stored once space returned: {online:?}"
    );
}
