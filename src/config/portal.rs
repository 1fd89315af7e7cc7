//! `[portal]`: the Srun-compatible web portal and its access points.

use serde::Deserialize;

use super::{check_range, ConfigError};

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

impl PortalSettings {
    /// Checks the section's values, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let p = self;
        for (i, a) in p.ac_ids.iter().enumerate() {
            let name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
            if a.is_empty() || a.len() > 32 || !a.bytes().all(name) {
                return Err(ConfigError::key(
                    format!("portal.ac_ids[{i}]"),
                    format!("{a:?} must be 1 to 32 letters, digits, '_' or '-'"),
                ));
            }
        }
        check_range(
            "portal.challenge_secs",
            p.challenge_secs,
            1..=3600,
            " seconds",
        )?;
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
        Ok(())
    }
}
