//! `turnstile online|sessions|kick|coa`: ask the running daemon through its local
//! operator API (`[api] listen`, bearer token in `DATA_DIR/api.token`).

use anyhow::{anyhow, bail, Context, Result};
use clap::ValueEnum;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use turnstile::config::Settings;

/// `--mode` of `turnstile kick`.
#[derive(Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Disconnect-Request to the NAS.
    Dm,
    /// Drop from the online table without telling the NAS.
    Local,
    /// Virtual offline.
    Virtual,
}

/// `--source` of `turnstile kick`.
#[derive(Clone, Copy, ValueEnum)]
pub enum Source {
    /// The admin console (E4103, E4113, E4123).
    Admin,
    /// System settings (E4102, E4112, E4122).
    System,
    /// Self-service (E4104, E4114, E4124).
    SelfService,
}

/// One request to the API; the `data` of a successful reply.
pub(super) fn call(
    settings: &Settings,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value> {
    if settings.api.listen.is_empty() {
        bail!("the operator API is off (`api.listen` is empty)");
    }
    // The running daemon says where it listens (the config may say port 0).
    let bound = turnstile::admin::token::address_path(&settings.general.data_dir);
    let listen = std::fs::read_to_string(bound)
        .map(|a| a.trim().to_string())
        .unwrap_or_else(|_| settings.api.listen.clone());
    let listen = &listen;
    let token_file = turnstile::admin::token::path(&settings.general.data_dir);
    let token = std::fs::read_to_string(&token_file)
        .with_context(|| format!("reading {} (has the daemon run?)", token_file.display()))?;
    let mut stream = TcpStream::connect(listen)
        .with_context(|| format!("connecting to the daemon's API at {listen} (is it running?)"))?;
    // A DM may be retransmitted for up to [dynauth] total_ms.
    stream.set_read_timeout(Some(Duration::from_millis(
        settings.dynauth.total_ms + 10_000,
    )))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {listen}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        token.trim(),
        body.len()
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let (_, payload) = reply
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("malformed reply from the daemon"))?;
    // axum answers with a Content-Length body (no chunking) for these JSON replies.
    let v: Value = serde_json::from_str(payload)
        .with_context(|| format!("reply from the daemon is not JSON: {payload:?}"))?;
    if v["code"] != 0 {
        bail!("{}", v["msg"].as_str().unwrap_or("error"));
    }
    Ok(v["data"].clone())
}

pub(super) fn query(user: &Option<String>, limit: Option<u32>) -> String {
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

pub(super) fn print(data: &Value, json_out: bool, line: impl Fn(&Value) -> String) -> Result<()> {
    if json_out {
        println!("{}", serde_json::to_string_pretty(data)?);
    } else {
        for row in data.as_array().into_iter().flatten() {
            println!("{}", line(row));
        }
    }
    Ok(())
}

pub(super) fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `turnstile online`.
pub fn online(settings: &Settings, user: Option<String>, json_out: bool) -> Result<()> {
    let data = call(
        settings,
        "GET",
        &format!("/api/v1/online{}", query(&user, None)),
        None,
    )?;
    print(&data, json_out, |r| {
        format!(
            "{}\t{}\t{}\tip={}\tin={} out={}\ttime={}s",
            text(&r["session"]),
            text(&r["user"]),
            text(&r["product"]),
            text(&r["framed_ip"]),
            text(&r["input_octets"]),
            text(&r["output_octets"]),
            text(&r["session_time"])
        )
    })
}

/// `turnstile sessions`.
pub fn sessions(
    settings: &Settings,
    user: Option<String>,
    limit: u32,
    json_out: bool,
) -> Result<()> {
    let path = format!("/api/v1/sessions{}", query(&user, Some(limit)));
    let data = call(settings, "GET", &path, None)?;
    print(&data, json_out, |r| {
        format!(
            "{}/{}\t{}\tin={} out={}\ttime={}s\t{}{}",
            text(&r["nas"]),
            text(&r["session_id"]),
            text(&r["user"]),
            text(&r["input_octets"]),
            text(&r["output_octets"]),
            text(&r["session_time"]),
            text(&r["cause"]),
            r["via"]
                .as_str()
                .map(|v| format!(" (via {v})"))
                .unwrap_or_default()
        )
    })
}

/// `turnstile kick`.
pub fn kick(
    settings: &Settings,
    user: Option<String>,
    session: Option<String>,
    mode: Mode,
    source: Source,
) -> Result<()> {
    let mode = match mode {
        Mode::Dm => "dm",
        Mode::Local => "local",
        Mode::Virtual => "virtual",
    };
    let source = match source {
        Source::Admin => "admin",
        Source::System => "system",
        Source::SelfService => "self-service",
    };
    let data = call(
        settings,
        "POST",
        "/api/v1/kick",
        Some(json!({"user": user, "session": session, "mode": mode, "source": source})),
    )?;
    let mut failed = false;
    for r in data.as_array().into_iter().flatten() {
        let ended = r["ended"] == true;
        failed |= !ended;
        println!(
            "{}\t{}\t{}\t{}",
            text(&r["session"]),
            if ended { "ended" } else { "still online" },
            text(&r["code"]),
            text(&r["detail"])
        );
    }
    if failed {
        bail!("not every session was ended");
    }
    Ok(())
}

/// `turnstile coa`.
pub fn coa(settings: &Settings, session: String, up: u64, down: u64) -> Result<()> {
    let data = call(
        settings,
        "POST",
        "/api/v1/coa",
        Some(json!({"session": session, "up": up, "down": down})),
    )?;
    println!(
        "{}\t{}\t{}",
        text(&data["session"]),
        text(&data["code"]),
        text(&data["detail"])
    );
    if data["detail"] != "CoA-ACK" {
        bail!("the NAS did not acknowledge the change");
    }
    Ok(())
}
