//! `turnstile nas …`: NAS devices registered in the store.

use anyhow::{bail, Result};
use clap::Subcommand;
use serde::Serialize;

use super::args;
use turnstile::config::{parse_address_range, Settings};
use turnstile::store::{unix_now, Backend, NasRecord};
use turnstile::vendor::Vendor;

/// `turnstile nas`.
#[derive(Subcommand)]
pub enum NasCommand {
    /// Register a NAS device.
    Add {
        /// Name for logs and metrics.
        name: String,
        /// IP address or CIDR range the NAS sends from.
        #[arg(long)]
        address: String,
        /// Shared secret.
        #[arg(long)]
        secret: String,
        /// Attribute dialect: standard, huawei, h3c or mikrotik.
        #[arg(long, default_value = "standard")]
        vendor: Vendor,
        /// Drop Access-Requests without Message-Authenticator.
        #[arg(long, value_parser = args::yes_no, default_value = "yes")]
        require_message_authenticator: bool,
    },
    /// List NAS devices, from the config file and the store.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a NAS device added with `nas add`.
    Del {
        /// Name.
        name: String,
    },
}

/// Runs a `turnstile nas` command.
pub async fn run(settings: &Settings, cmd: NasCommand) -> Result<()> {
    let backend = Backend::open(&settings.store_options()).await?;
    match cmd {
        NasCommand::Add {
            name,
            address,
            secret,
            vendor,
            require_message_authenticator,
        } => {
            let range = parse_address_range(&address).map_err(anyhow::Error::msg)?;
            if secret.is_empty() {
                bail!("--secret must not be empty");
            }
            if settings.radius.clients.iter().any(|c| c.name == name) {
                bail!("NAS {name:?} is defined in the config file");
            }
            backend
                .store
                .add_nas(&NasRecord {
                    secret_sealed: backend.seal_secret(&name, secret.as_bytes()),
                    name: name.clone(),
                    address: range.to_string(),
                    vendor,
                    require_message_authenticator,
                    created_at: unix_now(),
                })
                .await?;
            println!("added NAS {name} ({range})");
        }
        NasCommand::List { json } => {
            #[derive(Serialize)]
            struct NasView {
                name: String,
                address: String,
                vendor: Vendor,
                require_message_authenticator: bool,
                source: &'static str,
            }
            let mut rows: Vec<NasView> = settings
                .radius
                .clients
                .iter()
                .map(|c| NasView {
                    name: c.name.clone(),
                    address: c.address.to_string(),
                    vendor: c.vendor,
                    require_message_authenticator: c.require_message_authenticator,
                    source: "config",
                })
                .collect();
            rows.extend(
                backend
                    .store
                    .nas_devices()
                    .await?
                    .into_iter()
                    .map(|n| NasView {
                        name: n.name,
                        address: n.address,
                        vendor: n.vendor,
                        require_message_authenticator: n.require_message_authenticator,
                        source: "store",
                    }),
            );
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for n in rows {
                    println!(
                        "{}\t{}\t{}\tmessage-authenticator={}\t({})",
                        n.name,
                        n.address,
                        n.vendor,
                        if n.require_message_authenticator {
                            "required"
                        } else {
                            "optional"
                        },
                        n.source
                    );
                }
            }
        }
        NasCommand::Del { name } => {
            if !backend.store.delete_nas(&name).await? {
                bail!(
                    "no NAS {name:?} in the store (entries of the config file are removed there)"
                );
            }
            println!("deleted NAS {name}");
        }
    }
    Ok(())
}
