//! Typed settings: one TOML file (`config/turnstile.toml` documents every key and its
//! default), overridable key by key from the environment as `TURNSTILE__SECTION__KEY`.
//!
//! Loading checks every value and names the offending key on error, so that
//! `turnstile check-config` can tell an operator exactly what to fix.

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use thiserror::Error;

use crate::clock::Zone;
use crate::codes::Lang;
use crate::vendor::Vendor;

/// The port RFC 5176 assigns to Dynamic Authorization (a NAS's Disconnect and CoA).
pub const DEFAULT_COA_PORT: u16 = 3799;

/// Environment variables with this prefix (and `__` between levels) override the file.
pub const ENV_PREFIX: &str = "TURNSTILE";

/// Why the configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file is missing, unreadable or not TOML.
    #[error("cannot read config file {path}: {reason}")]
    File {
        /// The file's path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// One key has a bad value (or is not a key at all).
    #[error("config key `{key}`: {reason}")]
    Key {
        /// Dotted path of the key, e.g. `radius.clients[0].secret`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    /// Key `key` is wrong for `reason`.
    pub fn key(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Key {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Every setting of the daemon and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Language and data directory.
    pub general: General,
    /// RADIUS listener and NAS clients.
    pub radius: RadiusSettings,
    /// Where users and NAS devices are kept.
    pub store: StoreSettings,
    /// Thresholds of the authorization policy.
    pub policy: PolicySettings,
    /// Retransmission of Disconnect and CoA requests.
    pub dynauth: DynAuthSettings,
    /// Server-side checks of online sessions.
    pub sessions: SessionSettings,
    /// The operator's local HTTP API.
    pub api: ApiSettings,
    /// The Srun-compatible web portal.
    pub portal: PortalSettings,
    /// Limits of the HTTP listeners (portal, API, metrics).
    pub http: HttpSettings,
    /// Payments and settlement.
    pub billing: BillingSettings,
    /// Logs and metrics.
    pub telemetry: TelemetrySettings,
    /// Accounts created the first time the daemon runs on a store.
    pub bootstrap: Bootstrap,
}

/// `[general]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// Language of user-facing texts (`zh` or `en`).
    pub language: Lang,
    /// Directory of the database and the secret key.
    pub data_dir: PathBuf,
    /// Shifts the daemon's clock by this many seconds: for drills and tests that must see
    /// a billing cycle end. Leave it at 0 in production.
    pub clock_offset_secs: i64,
}

impl Default for General {
    fn default() -> Self {
        General {
            language: Lang::Zh,
            data_dir: PathBuf::from("data"),
            clock_offset_secs: 0,
        }
    }
}

/// Where a payment lands by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayTo {
    /// The user's wallet (电子钱包).
    #[default]
    Wallet,
    /// The user's first product instance.
    Product,
}

/// `[billing]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingSettings {
    /// Where a payment lands when the payer names no product.
    pub pay_to: PayTo,
    /// Local time of the daily settlement run, `HH:MM`; "" turns the timer off.
    pub settle_at: String,
    /// The zone cycles and `settle_at` are counted in: "local" or an offset, "+08:00".
    pub time_zone: Zone,
}

impl Default for BillingSettings {
    fn default() -> Self {
        BillingSettings {
            pay_to: PayTo::Wallet,
            settle_at: "00:05".into(),
            time_zone: Zone::Local,
        }
    }
}

impl BillingSettings {
    /// Minute of the day of the settlement run; None when the timer is off.
    pub fn settle_minute(&self) -> Result<Option<u32>, String> {
        if self.settle_at.is_empty() {
            return Ok(None);
        }
        let bad = || format!("{:?} is not HH:MM (00:00-23:59) or \"\"", self.settle_at);
        let (h, m) = self.settle_at.split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Some(h * 60 + m))
    }
}

/// `[radius]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadiusSettings {
    /// Address the RADIUS sockets bind to.
    pub listen: IpAddr,
    /// Authentication port (0 picks a free one).
    pub auth_port: u16,
    /// Accounting port (0 picks a free one).
    pub acct_port: u16,
    /// Worker threads, each with its own socket on the port; 0 means one per CPU.
    pub workers: usize,
    /// Kernel receive buffer of each RADIUS socket (every auth worker's, accounting's and
    /// the DM/CoA client's), in bytes: the bounded queue that absorbs bursts.
    pub recv_buffer_bytes: usize,
    /// How long a reply stays in the reply cache for retransmissions (RFC 5080).
    pub reply_cache_secs: u64,
    /// Most replies kept in the cache; beyond this, requests are not deduplicated.
    pub reply_cache_max_entries: usize,
    /// Accounting requests read per second while authentication falls behind (its
    /// sockets' queues fill); the rest wait, and NASes retransmit what the kernel drops.
    pub overload_accounting_per_sec: u32,
    /// NAS clients known from this file (more can be added with `turnstile nas add`).
    pub clients: Vec<ClientSettings>,
}

impl Default for RadiusSettings {
    fn default() -> Self {
        RadiusSettings {
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            auth_port: 1812,
            acct_port: 1813,
            workers: 0,
            recv_buffer_bytes: 4 << 20,
            reply_cache_secs: 5,
            reply_cache_max_entries: 1_000_000,
            overload_accounting_per_sec: 200,
            clients: Vec::new(),
        }
    }
}

/// One `[[radius.clients]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// A name for logs and metrics.
    pub name: String,
    /// Source address or CIDR range of the NAS.
    #[serde(deserialize_with = "address_range")]
    pub address: IpNet,
    /// Shared secret.
    pub secret: Secret,
    /// Attribute dialect of the NAS.
    #[serde(default)]
    pub vendor: Vendor,
    /// Drop Access-Requests without Message-Authenticator (BlastRADIUS defence).
    #[serde(default = "default_require_message_authenticator")]
    pub require_message_authenticator: bool,
    /// Port the NAS takes Disconnect and CoA requests on.
    #[serde(default = "default_coa_port")]
    pub coa_port: u16,
}

/// A NAS client's `coa_port` when none is given (the NAS registry's too).
pub fn default_coa_port() -> u16 {
    DEFAULT_COA_PORT
}

/// A NAS client's `require_message_authenticator` when none is given (the NAS
/// registry's too): on.
pub fn default_require_message_authenticator() -> bool {
    true
}

/// `[store]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `sqlite://PATH` (the embedded default; empty means `<data_dir>/turnstile.db`) or
    /// `postgres://user:password@host:port/database`, shared by the nodes of a cluster.
    pub url: String,
    /// How often the daemon picks up changes made by the CLI or other nodes when nothing
    /// wakes it sooner (PostgreSQL's NOTIFY does).
    pub sync_interval_ms: u64,
    /// Length of the lease on once-only work (settlement, the sweeper, policy-change
    /// pushes): when its node dies, another takes the work over within this time.
    pub lease_secs: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: String::new(),
            sync_interval_ms: 500,
            lease_secs: 20,
        }
    }
}

/// `[policy]`: thresholds of the checks that are not stored per user. 0 turns a check off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySettings {
    /// A user accepted less than this many seconds ago is refused with E2532.
    pub min_auth_interval_secs: u32,
    /// This many wrong passwords within `lockout_window_secs` lock the user (E2533).
    pub lockout_failures: u32,
    /// The window in which wrong passwords are counted.
    pub lockout_window_secs: u32,
    /// How long a lock lasts; it survives a restart.
    pub lockout_secs: u32,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            min_auth_interval_secs: 10,
            lockout_failures: 5,
            lockout_window_secs: 300,
            lockout_secs: 300,
        }
    }
}

/// `[dynauth]`: how Disconnect and CoA requests are retransmitted (RFC 5176). The same
/// request is sent again after `initial_retry_ms`, doubling up to `max_retry_ms`, at most
/// `tries` times and never after `total_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynAuthSettings {
    /// Wait before the first retransmission.
    pub initial_retry_ms: u64,
    /// Longest wait between two sends.
    pub max_retry_ms: u64,
    /// Sends in all, the first included.
    pub tries: u32,
    /// Time after which the NAS is taken not to answer.
    pub total_ms: u64,
}

impl Default for DynAuthSettings {
    fn default() -> Self {
        DynAuthSettings {
            initial_retry_ms: 2_000,
            max_retry_ms: 16_000,
            tries: 5,
            total_ms: 30_000,
        }
    }
}

/// `[sessions]`: the sweeper that ends sessions on the server's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// How often every online session is checked.
    pub sweep_interval_ms: u64,
    /// A session without Interim-Update for this many interim intervals is ended (E3101).
    pub heartbeat_intervals: u32,
    /// Acct-Interim-Interval sent when the control policy sets none, seconds: without
    /// interims neither quotas nor the heartbeat can be enforced.
    pub default_interim_secs: u32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            sweep_interval_ms: 10_000,
            heartbeat_intervals: 3,
            default_interim_secs: 300,
        }
    }
}

/// `[portal]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalSettings {
    /// Address of the portal; "" turns it off.
    pub listen: String,
    /// The `ac_id` values logins may name; `/` redirects to the first.
    pub ac_ids: Vec<String>,
    /// Login attempts allowed per client address per minute (`speed_limit_error`
    /// beyond); 0 turns the limit off.
    pub logins_per_minute: u32,
    /// Seconds a login challenge stays valid.
    pub challenge_secs: u64,
    /// Access points whose logins are activated on their NAS by CoA (IPoE web
    /// authentication); none by default.
    pub activation: Vec<PortalActivation>,
}

/// One `[[portal.activation]]`: after a portal login on `ac_id`, a CoA-Request asks `nas`
/// to activate `service` for the subscriber (E4003); logout deactivates it (E4004).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalActivation {
    /// The access point.
    pub ac_id: String,
    /// The NAS client's name (`[[radius.clients]]` or `turnstile nas add`).
    pub nas: String,
    /// The service name, sent as Juniper `ERX-Service-Activate` / `-Deactivate`.
    pub service: String,
}

impl Default for PortalSettings {
    fn default() -> Self {
        PortalSettings {
            listen: "127.0.0.1:8080".into(),
            ac_ids: vec!["1".into()],
            logins_per_minute: 30,
            challenge_secs: 60,
            activation: Vec::new(),
        }
    }
}

/// `[http]`: limits every HTTP listener (portal, operator API, metrics) applies, so that
/// slow, idle or half-open clients cannot exhaust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Connections open at once on each listener; more are closed at once.
    pub max_connections: usize,
    /// Connections open at once from one client address on each listener.
    pub max_connections_per_address: usize,
    /// Seconds a client has to send a request head (and finish the TLS handshake), and
    /// to read a reply that is being written.
    pub header_timeout_secs: u64,
    /// Seconds within which a request, its body included, must be answered (408
    /// beyond); longer than a portal login that waits for a NAS's CoA answer
    /// (`dynauth.total_ms`).
    pub request_timeout_secs: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_connections: 1024,
            max_connections_per_address: 32,
            header_timeout_secs: 10,
            request_timeout_secs: 60,
        }
    }
}

/// `[api]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// Address of the operator API; "" turns it off. Keep it on loopback, or use TLS.
    pub listen: String,
    /// Certificate chain (PEM) for HTTPS; empty: plain HTTP. Needs `tls_key`.
    pub tls_cert: PathBuf,
    /// Private key (PEM) of `tls_cert`.
    pub tls_key: PathBuf,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            listen: "127.0.0.1:9813".into(),
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
        }
    }
}

impl ApiSettings {
    /// The certificate and key when TLS is on.
    pub fn tls(&self) -> Option<(&Path, &Path)> {
        (!self.tls_cert.as_os_str().is_empty())
            .then_some((self.tls_cert.as_path(), self.tls_key.as_path()))
    }
}

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

/// `[bootstrap]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Bootstrap {
    /// Users created the first time the daemon runs on a store (never afterwards).
    pub users: Vec<BootstrapUser>,
}

/// One `[[bootstrap.users]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapUser {
    /// User name.
    pub name: String,
    /// Password.
    pub password: Secret,
}

/// A secret string (shared secret, password) that is never printed.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*redacted*")
    }
}

fn address_range<'de, D: Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
    let s = String::deserialize(d)?;
    crate::address::parse_address_range(&s).map_err(serde::de::Error::custom)
}

impl Settings {
    /// Reads the file, applies `TURNSTILE__…` overrides, and checks every value.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        Self::load_with_env(path, None)
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_with_env(
        path: &Path,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Settings, ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.to_path_buf(),
            reason,
        };
        if !path.is_file() {
            return Err(file_error("no such file".into()));
        }
        let raw = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .separator("__")
                    .source(env),
            )
            .build()
            .map_err(|e| file_error(e.to_string()))?;
        let settings: Settings = serde_path_to_error::deserialize(raw).map_err(|e| {
            let key = e.path().to_string();
            let reason = e.into_inner().to_string();
            ConfigError::key(
                if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                reason,
            )
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.general.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::key("general.data_dir", "must not be empty"));
        }
        let r = &self.radius;
        if r.recv_buffer_bytes < 65536 {
            return Err(ConfigError::key(
                "radius.recv_buffer_bytes",
                "must be at least 65536",
            ));
        }
        if r.reply_cache_secs == 0 || r.reply_cache_secs > 300 {
            return Err(ConfigError::key(
                "radius.reply_cache_secs",
                "must be between 1 and 300 seconds",
            ));
        }
        if !(1..=1_000_000).contains(&r.overload_accounting_per_sec) {
            return Err(ConfigError::key(
                "radius.overload_accounting_per_sec",
                "must be between 1 and 1000000",
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, c) in r.clients.iter().enumerate() {
            let key = |field: &str| format!("radius.clients[{i}].{field}");
            if c.name.trim().is_empty() {
                return Err(ConfigError::key(key("name"), "must not be empty"));
            }
            if !names.insert(c.name.as_str()) {
                return Err(ConfigError::key(
                    key("name"),
                    format!("{:?} is used by another client", c.name),
                ));
            }
            if c.secret.0.is_empty() {
                return Err(ConfigError::key(key("secret"), "must not be empty"));
            }
        }
        let api = &self.api;
        match (
            api.tls_cert.as_os_str().is_empty(),
            api.tls_key.as_os_str().is_empty(),
        ) {
            (false, true) => {
                return Err(ConfigError::key(
                    "api.tls_key",
                    "is needed with api.tls_cert",
                ))
            }
            (true, false) => {
                return Err(ConfigError::key(
                    "api.tls_cert",
                    "is needed with api.tls_key",
                ))
            }
            _ => {}
        }
        if !(2..=300).contains(&self.store.lease_secs) {
            return Err(ConfigError::key(
                "store.lease_secs",
                "must be between 2 and 300 seconds",
            ));
        }
        if self.store.sync_interval_ms == 0 || self.store.sync_interval_ms > 2000 {
            return Err(ConfigError::key(
                "store.sync_interval_ms",
                "must be between 1 and 2000 (changes must reach the daemon within 2 s)",
            ));
        }
        let m = &self.telemetry.metrics_listen;
        if !m.is_empty() && m.parse::<SocketAddr>().is_err() {
            return Err(ConfigError::key(
                "telemetry.metrics_listen",
                format!("{m:?} is not an address:port"),
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.telemetry.log_level).is_err() {
            return Err(ConfigError::key(
                "telemetry.log_level",
                format!("{:?} is not a log filter", self.telemetry.log_level),
            ));
        }
        let p = &self.portal;
        for (i, a) in p.ac_ids.iter().enumerate() {
            let name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
            if a.is_empty() || a.len() > 32 || !a.bytes().all(name) {
                return Err(ConfigError::key(
                    format!("portal.ac_ids[{i}]"),
                    format!("{a:?} must be 1 to 32 letters, digits, '_' or '-'"),
                ));
            }
        }
        if !(1..=3600).contains(&p.challenge_secs) {
            return Err(ConfigError::key(
                "portal.challenge_secs",
                "must be between 1 and 3600 seconds",
            ));
        }
        for (i, a) in p.activation.iter().enumerate() {
            let key = |field: &str| format!("portal.activation[{i}].{field}");
            if !p.ac_ids.contains(&a.ac_id) {
                return Err(ConfigError::key(
                    key("ac_id"),
                    format!("{:?} is not in portal.ac_ids", a.ac_id),
                ));
            }
            if a.nas.trim().is_empty() {
                return Err(ConfigError::key(key("nas"), "must name a NAS client"));
            }
            if a.service.is_empty() || a.service.len() > 240 {
                return Err(ConfigError::key(key("service"), "must be 1 to 240 bytes"));
            }
        }
        let h = &self.http;
        if h.max_connections == 0 {
            return Err(ConfigError::key(
                "http.max_connections",
                "must be at least 1",
            ));
        }
        if h.max_connections_per_address == 0 {
            return Err(ConfigError::key(
                "http.max_connections_per_address",
                "must be at least 1",
            ));
        }
        if !(1..=300).contains(&h.header_timeout_secs) {
            return Err(ConfigError::key(
                "http.header_timeout_secs",
                "must be between 1 and 300 seconds",
            ));
        }
        let login_wait = self.dynauth.total_ms.div_ceil(1000);
        if h.request_timeout_secs <= login_wait || h.request_timeout_secs > 3600 {
            return Err(ConfigError::key(
                "http.request_timeout_secs",
                format!(
                    "must be more than dynauth.total_ms ({login_wait} s: a portal login may wait that long for its NAS) and at most 3600"
                ),
            ));
        }
        if !(10..=86_400).contains(&self.sessions.default_interim_secs) {
            return Err(ConfigError::key(
                "sessions.default_interim_secs",
                "must be between 10 and 86400 seconds",
            ));
        }
        self.billing
            .settle_minute()
            .map_err(|reason| ConfigError::key("billing.settle_at", reason))?;
        for (i, u) in self.bootstrap.users.iter().enumerate() {
            if u.name.is_empty() || u.password.0.is_empty() {
                return Err(ConfigError::key(
                    format!("bootstrap.users[{i}]"),
                    "name and password must not be empty",
                ));
            }
        }
        Ok(())
    }

    /// This node's name among the nodes of a cluster: the host and the data directory,
    /// the same across restarts.
    pub fn node_name(&self) -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        let dir = std::fs::canonicalize(&self.general.data_dir)
            .unwrap_or_else(|_| self.general.data_dir.clone());
        format!("{host}:{}", dir.display())
    }

    /// Number of RADIUS workers, resolving 0 to the CPU count.
    pub fn worker_count(&self) -> usize {
        match self.radius.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, toml).unwrap();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_with_env(&path, Some(env))
    }

    #[test]
    fn shipped_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/turnstile.toml");
        let s = Settings::load_with_env(&path, Some(HashMap::new())).unwrap();
        assert_eq!(s.radius.auth_port, 1812);
        assert_eq!(s.radius.clients[0].secret.0, "testing123");
    }

    #[test]
    fn environment_overrides_a_key() {
        let s = load("", &[("TURNSTILE__RADIUS__AUTH_PORT", "11812")]).unwrap();
        assert_eq!(s.radius.auth_port, 11812);
    }

    #[test]
    fn errors_name_the_key() {
        let e = load("[radius]\nauth_port = \"abc\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("radius.auth_port"), "{e}");
        let e = load("[radius]\nauth_prot = 1\n", &[]).unwrap_err();
        assert!(e.to_string().contains("auth_prot"), "{e}");
        let e = load(
            "[[radius.clients]]\nname=\"a\"\naddress=\"10.0.0.300\"\nsecret=\"x\"\n",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("radius.clients[0].address"), "{e}");
        let e = load(
            "[[radius.clients]]\nname=\"a\"\naddress=\"10.0.0.0/8\"\nsecret=\"\"\n",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("radius.clients[0].secret"), "{e}");
        let e = load("", &[("TURNSTILE__GENERAL__LANGUAGE", "fr")]).unwrap_err();
        assert!(e.to_string().contains("general.language"), "{e}");
        let e = load("[portal]\nac_ids = [\"1\", \"a\\\"b\"]\n", &[]).unwrap_err();
        assert!(e.to_string().contains("portal.ac_ids[1]"), "{e}");
        let activation = |ac_id: &str, service: &str| {
            format!("[[portal.activation]]\nac_id = \"{ac_id}\"\nnas = \"bras\"\nservice = \"{service}\"\n")
        };
        let e = load(&activation("9", "internet"), &[]).unwrap_err();
        assert!(e.to_string().contains("portal.activation[0].ac_id"), "{e}");
        let e = load(&activation("1", ""), &[]).unwrap_err();
        assert!(
            e.to_string().contains("portal.activation[0].service"),
            "{e}"
        );
        let ok = load(&activation("1", "internet"), &[]).unwrap();
        assert_eq!(ok.portal.activation[0].nas, "bras");
    }

    #[test]
    fn address_ranges() {
        assert_eq!(
            crate::address::parse_address_range("127.0.0.1")
                .unwrap()
                .to_string(),
            "127.0.0.1/32"
        );
        assert_eq!(
            crate::address::parse_address_range("10.1.2.3/8")
                .unwrap()
                .to_string(),
            "10.0.0.0/8"
        );
        assert!(crate::address::parse_address_range("nas1").is_err());
    }
}
