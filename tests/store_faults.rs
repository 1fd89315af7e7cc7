//! The store's disk full or read-only: accounting is not acknowledged (the NAS keeps
//! retransmitting), logins from memory go on, the failure is logged and counted, and the
//! very request the NAS retransmits is acknowledged and stored once the disk takes writes
//! again.
//!
//! The data directory is a file system mounted for the test (a small tmpfs; an ext4
//! image on a loop device), which needs root; elsewhere, and on the PostgreSQL pass
//! (whose files are not the daemon's), the tests say so and pass without running.

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

/// Whether this run can mount a file system for the store; says why not.
fn can_mount() -> bool {
    if postgres_server().is_some() {
        eprintln!("skipped: the PostgreSQL pass keeps no store file in the data directory");
        return false;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a file system needs root");
        return false;
    }
    true
}

/// Runs `program` with `args`; whether it succeeded (a failure is printed).
fn run(program: &str, args: &[&str]) -> bool {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            eprintln!(
                "{program} {args:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
            false
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            false
        }
    }
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        if !can_mount() {
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

/// An ext4 file system in an image file on a loop device, mounted as production disks
/// are, with `errors=remount-ro`: after an I/O error the kernel refuses every write, to
/// files already open too, until it is unmounted and repaired. Unmounted on drop.
struct Ext4Image {
    _dir: tempfile::TempDir,
    image: String,
    path: PathBuf,
}

impl Ext4Image {
    fn mount() -> Option<Ext4Image> {
        if !can_mount() {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data");
        std::fs::create_dir(&path).unwrap();
        let image = dir.path().join("disk.img");
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(64 << 20))
            .unwrap();
        let image = image.display().to_string();
        if !run("mkfs.ext4", &["-q", &image]) {
            eprintln!("skipped: mkfs.ext4 is missing or failed");
            return None;
        }
        let fs = Ext4Image {
            _dir: dir,
            image,
            path,
        };
        if !fs.attach() {
            eprintln!("skipped: no ext4 image on a loop device here");
            return None;
        }
        Some(fs)
    }

    fn attach(&self) -> bool {
        let path = self.path.to_str().unwrap();
        run(
            "mount",
            &["-o", "loop,errors=remount-ro", &self.image, path],
        )
    }

    /// Makes the kernel see an error in the file system, which it then remounts
    /// read-only, as it does when a disk fails under it.
    fn fail(&self) {
        let out = Command::new("findmnt")
            .args(["-no", "SOURCE"])
            .arg(&self.path)
            .output()
            .expect("findmnt runs");
        let device = String::from_utf8_lossy(&out.stdout);
        let device = device.trim().rsplit('/').next().unwrap().to_string();
        std::fs::write(format!("/sys/fs/ext4/{device}/trigger_fs_error"), "1")
            .expect("an error triggered in the file system");
    }

    /// What an operator does after such an error: unmount, check, mount again.
    fn repair(&self) {
        assert!(run("umount", &[self.path.to_str().unwrap()]));
        // 0: clean; 1: errors corrected (the error the test made).
        let fsck = Command::new("e2fsck")
            .args(["-fy", &self.image])
            .output()
            .expect("e2fsck runs");
        assert!(
            matches!(fsck.status.code(), Some(0 | 1)),
            "e2fsck: {fsck:?}"
        );
        assert!(self.attach(), "the repaired file system mounts");
    }
}

impl Drop for Ext4Image {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// A daemon whose data directory is `path`.
fn daemon_on(path: &Path) -> Daemon {
    let data = path.display().to_string();
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

/// While the store cannot write: the failure counted and logged, logins answered from
/// memory, and the NAS's retransmission of `refused` still unanswered.
fn refused_while_faulty(daemon: &Daemon, nas: &Nas, refused: &common::Request) {
    assert!(daemon.metric(STORE_FAILED) >= 1.0);
    daemon.wait_log(&["accounting record not stored"]);
    logins_go_on(daemon);
    assert!(nas.try_exchange(refused).is_none());
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
    let daemon = daemon_on(&fs.path);
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
    refused_while_faulty(&daemon, &nas, &refused);
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

#[test]
fn read_only_store_stops_acknowledging_accounting_and_loses_nothing() {
    let Some(fs) = Ext4Image::mount() else {
        return;
    };
    let daemon = daemon_on(&fs.path);
    let mut nas = Nas::accounting("127.0.0.1", &daemon);
    let before = nas.acct(1, "before-read-only", "alice");
    assert!(
        nas.try_exchange(&before).is_some(),
        "a Start before the error"
    );

    fs.fail();
    let refused = nas.acct(1, "read-only", "alice");
    assert!(
        nas.try_exchange(&refused).is_none(),
        "a Start acknowledged on a read-only disk"
    );
    refused_while_faulty(&daemon, &nas, &refused);

    // ext4 stays read-only until repaired: the operator stops the daemon, checks the file
    // system and starts the daemon again, while the NAS goes on retransmitting.
    drop(daemon);
    fs.repair();
    let daemon = daemon_on(&fs.path);
    let mut nas = Nas::accounting("127.0.0.1", &daemon);
    let again = nas.acct(1, "read-only", "alice");
    retransmit_until_acknowledged(&nas, &again);
    let online: Vec<_> = daemon
        .online(&["session_id"])
        .into_iter()
        .filter_map(|row| row[0].clone())
        .collect();
    assert!(
        online.contains(&"before-read-only".to_string())
            && online.contains(&"read-only".to_string()),
        "both sessions online after the repair: {online:?}"
    );
}
