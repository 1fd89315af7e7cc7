//! `SIGHUP` (`systemctl reload`): the daemon reads its config file again.
//!
//! A file that does not load (not TOML, an unknown key, a bad value) changes nothing: the
//! running configuration stays, and the error, naming the key and the reason, is logged
//! and counted (`turnstile_config_reloads_total{result="refused"}`). A file that loads
//! applies at once what can change while running:
//!
//! - the NAS clients of the file (`[[radius.clients]]`),
//! - the `[policy]` thresholds,
//! - the log filter (`telemetry.log_level`);
//!
//! and the log names every other section that changed, which takes effect at the next
//! restart.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::auth::Service;
use crate::config::{ConfigError, Settings};
use crate::directory::{Directory, DirectoryError};
use crate::telemetry::LogFilter;

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file does not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The new NAS clients could not be read with the stored ones.
    #[error("NAS clients: {0}")]
    Directory(#[from] DirectoryError),
}

/// What a reload changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Parts applied at once.
    pub applied: Vec<&'static str>,
    /// Sections that changed and wait for a restart.
    pub on_restart: Vec<&'static str>,
}

/// Reloads the daemon's configuration from its file.
pub struct Reloader {
    path: PathBuf,
    running: Mutex<Settings>,
    directory: Arc<Directory>,
    auth: Arc<Service>,
    log_filter: Option<LogFilter>,
}

impl Reloader {
    /// A reloader of `path`, which `running` was loaded from.
    pub fn new(
        path: PathBuf,
        running: Settings,
        directory: Arc<Directory>,
        auth: Arc<Service>,
        log_filter: Option<LogFilter>,
    ) -> Reloader {
        Reloader {
            path,
            running: Mutex::new(running),
            directory,
            auth,
            log_filter,
        }
    }

    /// Reads the file again and applies it; logs and counts the outcome.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let outcome = self.apply().await;
        let result = match &outcome {
            Ok(r) => {
                tracing::info!(
                    file = %self.path.display(),
                    applied = ?r.applied,
                    "configuration reloaded"
                );
                if !r.on_restart.is_empty() {
                    tracing::warn!(
                        sections = ?r.on_restart,
                        "configuration changed where only a restart applies it"
                    );
                }
                "applied"
            }
            Err(e) => {
                tracing::error!(
                    file = %self.path.display(),
                    error = %e,
                    "configuration reload refused; the running configuration stays"
                );
                "refused"
            }
        };
        metrics::counter!("turnstile_config_reloads_total", "result" => result).increment(1);
        outcome
    }

    async fn apply(&self) -> Result<Reloaded, ReloadError> {
        let new = Settings::load(&self.path)?;
        // A store URL the store cannot read refuses the file like any bad key.
        crate::store::OpenOptions::for_settings(&new)?;
        let old = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut reloaded = Reloaded::default();
        if new.radius.clients != old.radius.clients {
            self.directory
                .replace_config_clients(new.radius.clients.clone())
                .await?;
            reloaded.applied.push("radius.clients");
        }
        if new.policy != old.policy {
            self.auth.authenticator.throttle.set_limits(new.policy);
            reloaded.applied.push("policy");
        }
        if new.telemetry.log_level != old.telemetry.log_level {
            if let Some(filter) = &self.log_filter {
                // Checked when the file loaded, so it applies.
                let _ = filter.set(&new.telemetry.log_level);
                reloaded.applied.push("telemetry.log_level");
            }
        }
        reloaded.on_restart = changed_sections(&old, &new);
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = new;
        Ok(reloaded)
    }
}

/// Sections that differ other than in what a reload applies.
fn changed_sections(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut compare = |name, differs: bool| {
        if differs {
            changed.push(name);
        }
    };
    compare("general", old.general != new.general);
    let fixed_radius = |s: &Settings| crate::config::RadiusSettings {
        clients: Vec::new(),
        ..s.radius.clone()
    };
    compare("radius", fixed_radius(old) != fixed_radius(new));
    compare("store", old.store != new.store);
    compare("dynauth", old.dynauth != new.dynauth);
    compare("sessions", old.sessions != new.sessions);
    compare("api", old.api != new.api);
    compare("portal", old.portal != new.portal);
    compare("http", old.http != new.http);
    compare("billing", old.billing != new.billing);
    let fixed_telemetry = |s: &Settings| crate::config::TelemetrySettings {
        log_level: String::new(),
        ..s.telemetry.clone()
    };
    compare("telemetry", fixed_telemetry(old) != fixed_telemetry(new));
    compare("bootstrap", old.bootstrap != new.bootstrap);
    changed
}
