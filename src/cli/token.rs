//! `turnstile token …` and `turnstile audit`: API tokens and the audit log, in the store
//! (they work without the daemon, so the first tokens can be made before it runs).

use anyhow::Result;
use clap::Subcommand;

use super::refusal;
use turnstile::config::Settings;
use turnstile::ops::tokens::{self, Role};
use turnstile::store::Backend;

/// `turnstile token`.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed this once.
    Add {
        /// Name (shown in the audit log).
        name: String,
        /// admin, operator, readonly or self-service.
        #[arg(long)]
        role: Role,
        /// The user a self-service token acts on.
        #[arg(long)]
        user: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: the next call with it is refused (401).
    Del {
        /// Name.
        name: String,
    },
}

/// Runs a `turnstile token` command.
pub async fn run(settings: &Settings, cmd: TokenCommand) -> Result<()> {
    let backend = Backend::open(&turnstile::store::OpenOptions::for_settings(settings)?).await?;
    let refused = refusal(settings.general.language);
    match cmd {
        TokenCommand::Add { name, role, user } => {
            let issued = tokens::add(&backend, &name, role, user.as_deref())
                .await
                .map_err(refused)?;
            println!("{}", issued.token);
            eprintln!("token {name} ({role}) created; the secret above is not shown again");
        }
        TokenCommand::List { json } => {
            let rows = tokens::list(&backend).await.map_err(refused)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for t in rows {
                    println!(
                        "{}\t{}\t{}",
                        t.name,
                        t.role,
                        t.user.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        TokenCommand::Del { name } => {
            tokens::delete(&backend, &name).await.map_err(refused)?;
            println!("revoked token {name}");
        }
    }
    Ok(())
}

/// `turnstile audit`: mutating API calls, newest first.
pub async fn audit(
    settings: &Settings,
    actor: Option<String>,
    limit: u32,
    json: bool,
) -> Result<()> {
    let backend = Backend::open(&turnstile::store::OpenOptions::for_settings(settings)?).await?;
    let rows = backend.store.audit(actor.as_deref(), limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for r in rows {
            let at = chrono::DateTime::from_timestamp(r.at, 0)
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default();
            println!(
                "{at}\t{}\t{}\t{} {}\t{}\t{}",
                r.actor, r.source, r.method, r.path, r.status, r.code
            );
        }
    }
    Ok(())
}
