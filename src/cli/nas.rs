//! `turnstile nas …`: NAS devices registered in the store, over [`turnstile::ops::nas`].

use anyhow::Result;
use clap::Subcommand;

use super::args;
use super::refusal;
use turnstile::config::{Settings, DEFAULT_COA_PORT};
use turnstile::ops::nas::{self, NewNas};
use turnstile::ops::OpsError;
use turnstile::store::Backend;
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
        /// Port the NAS takes Disconnect and CoA requests on.
        #[arg(long, default_value_t = DEFAULT_COA_PORT)]
        coa_port: u16,
        /// Display name.
        #[arg(long, default_value = "")]
        alias: String,
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
    let backend = Backend::open(&turnstile::store::OpenOptions::for_settings(settings)?).await?;
    let config = &settings.radius.clients;
    let refused = |e: nas::NasError| refusal(settings.general.language)(OpsError::from(e));
    match cmd {
        NasCommand::Add {
            name,
            address,
            secret,
            vendor,
            require_message_authenticator,
            coa_port,
            alias,
        } => {
            let new = NewNas {
                name,
                alias,
                address,
                secret,
                vendor,
                coa_port,
                require_message_authenticator,
            };
            let added = nas::add(&backend, config, new).await.map_err(refused)?;
            println!("added NAS {} ({})", added.name, added.address);
        }
        NasCommand::List { json } => {
            let rows = nas::list(&backend, config).await.map_err(refused)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for n in rows {
                    println!(
                        "{}\t{}\t{}\tcoa-port={}\tmessage-authenticator={}\t({}){}",
                        n.name,
                        n.address,
                        n.vendor,
                        n.coa_port,
                        if n.require_message_authenticator {
                            "required"
                        } else {
                            "optional"
                        },
                        n.source,
                        if n.alias.is_empty() {
                            String::new()
                        } else {
                            format!("\t{}", n.alias)
                        }
                    );
                }
            }
        }
        NasCommand::Del { name } => {
            nas::delete(&backend, config, &name)
                .await
                .map_err(refused)?;
            println!("deleted NAS {name}");
        }
    }
    Ok(())
}
