//! The operator API's bearer token: random, kept in `DATA_DIR/api.token` (mode 0600),
//! read by the CLI from the same place; and `DATA_DIR/api.addr`, the address the running
//! daemon's API is bound to (the config may say port 0).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where the token lives.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("api.token")
}

/// Reads the token, creating it first if there is none.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<String> {
    let file = path(data_dir);
    match std::fs::read_to_string(&file) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let token: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)?;
    f.write_all(token.as_bytes())?;
    f.sync_all()?;
    Ok(token)
}

/// Where the running daemon writes its API address.
pub fn address_path(data_dir: &Path) -> PathBuf {
    data_dir.join("api.addr")
}
