//! `[telemetry]`: logs and the metrics endpoint.

use serde::Deserialize;
use std::net::SocketAddr;

use super::ConfigError;

/// `[telemetry]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// Address of the Prometheus `/metrics` endpoint; empty turns it off.
    pub metrics_listen: String,
    /// Log filter, e.g. `info` or `turnstile=debug`.
    pub log_level: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            metrics_listen: "127.0.0.1:9812".into(),
            log_level: "info".into(),
            log_format: LogFormat::Text,
        }
    }
}

/// Format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl TelemetrySettings {
    /// Checks the section's values, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let m = &self.metrics_listen;
        if !m.is_empty() && m.parse::<SocketAddr>().is_err() {
            return Err(ConfigError::key(
                "telemetry.metrics_listen",
                format!("{m:?} is not an address:port"),
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            return Err(ConfigError::key(
                "telemetry.log_level",
                format!("{:?} is not a log filter", self.log_level),
            ));
        }
        Ok(())
    }
}
