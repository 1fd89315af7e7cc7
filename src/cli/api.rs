//! Talking to the running daemon's operator API (`[api] listen`): where it is, which
//! token to present (`TURNSTILE_API_TOKEN`, else `DATA_DIR/api.token`), and printing
//! what it returns.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::time::Duration;

use turnstile::admin::client::ApiClient;
use turnstile::config::Settings;

/// A client of the running daemon's API.
pub fn client(settings: &Settings) -> Result<ApiClient> {
    if settings.api.listen.is_empty() {
        bail!("the operator API is off (`api.listen` is empty)");
    }
    // The running daemon says where it listens (the config may say port 0).
    let bound = turnstile::admin::token_file::address_path(&settings.general.data_dir);
    let listen = std::fs::read_to_string(bound)
        .map(|a| a.trim().to_string())
        .unwrap_or_else(|_| settings.api.listen.clone());
    let token = match std::env::var("TURNSTILE_API_TOKEN") {
        Ok(t) if !t.is_empty() => t,
        _ => {
            let file = turnstile::admin::token_file::path(&settings.general.data_dir);
            std::fs::read_to_string(&file)
                .with_context(|| format!("reading {} (has the daemon run?)", file.display()))?
        }
    };
    // A DM may be retransmitted for up to [dynauth] total_ms.
    let timeout = Duration::from_millis(settings.dynauth.total_ms + 10_000);
    match settings.api.tls() {
        None => Ok(ApiClient::new(&format!("http://{listen}"), &token, timeout)),
        // The daemon's own certificate is the one to trust.
        Some((cert, _)) => {
            let roots = turnstile::admin::tls::certificates(cert)?
                .into_iter()
                .map(|c| c.to_vec())
                .collect();
            Ok(ApiClient::with_roots(
                &format!("https://{listen}"),
                &token,
                timeout,
                roots,
            ))
        }
    }
}

/// One call; the `data` of a successful reply.
pub fn call(settings: &Settings, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
    let envelope = client(settings)?.call(method, path, body.as_ref())?;
    Ok(envelope["data"].clone())
}

/// `?user=…&limit=…`.
pub fn query(user: &Option<String>, limit: Option<u32>) -> String {
    let mut q = Vec::new();
    if let Some(u) = user {
        q.push(format!("user={}", turnstile::portal::query_escape(u)));
    }
    if let Some(l) = limit {
        q.push(format!("limit={l}"));
    }
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

/// Prints rows as JSON or one line each.
pub fn print(data: &Value, json_out: bool, line: impl Fn(&Value) -> String) -> Result<()> {
    if json_out {
        println!("{}", serde_json::to_string_pretty(data)?);
    } else {
        for row in data.as_array().into_iter().flatten() {
            println!("{}", line(row));
        }
    }
    Ok(())
}

/// A JSON value for a table cell: strings bare, null as `-`.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
