//! `turnstile online|sessions|kick|coa`: ask the running daemon through its local
//! operator API (`[api] listen`, bearer token in `DATA_DIR/api.token`).

use anyhow::{bail, Result};
use clap::ValueEnum;
use serde_json::json;

use super::api::{call, print, query, text};
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
