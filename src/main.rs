//! The `turnstile` command: the daemon and the operator's tools.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use turnstile::codes::{ECode, Lang};
use turnstile::config::{parse_address_range, Settings};
use turnstile::radius::vendor::Vendor;
use turnstile::store::import::{self, check_name, check_password};
use turnstile::store::{unix_now, Backend, NasRecord, StoreError};

#[derive(Parser)]
#[command(
    name = "turnstile",
    version,
    about = "AAA daemon for campus and ISP access networks"
)]
struct Cli {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "TURNSTILE_CONFIG",
        default_value = "config/turnstile.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Serve,
    /// Check the configuration file; names the bad key and exits non-zero on error.
    CheckConfig,
    /// Print the E-code catalog.
    Codes {
        /// Language of the texts (zh or en).
        #[arg(long, value_parser = parse_lang, default_value = "zh")]
        lang: Lang,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage NAS devices (in addition to those in the config file).
    #[command(subcommand)]
    Nas(NasCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user.
    Add {
        /// User name.
        name: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// Delete a user.
    Del {
        /// User name.
        name: String,
    },
    /// Change a user's password.
    Passwd {
        /// User name.
        name: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// List users.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one user.
    Show {
        /// User name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create users from a CSV file of `username,password` lines, all or none.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
    /// Change a user's status.
    Set {
        /// User name.
        name: String,
        /// Refuse the user's logins (E2606).
        #[arg(long, conflicts_with = "enabled")]
        disabled: bool,
        /// Allow the user's logins again.
        #[arg(long)]
        enabled: bool,
    },
}

#[derive(Args)]
struct PasswordArg {
    /// Password; `-` reads one line from standard input (keeps it out of `ps`).
    #[arg(long)]
    password: String,
}

impl PasswordArg {
    fn read(&self) -> Result<String> {
        let password = if self.password == "-" {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        } else {
            self.password.clone()
        };
        check_password(&password).map_err(anyhow::Error::msg)?;
        Ok(password)
    }
}

#[derive(Subcommand)]
enum NasCommand {
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
        #[arg(long, value_parser = parse_yes_no, default_value = "yes")]
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

fn parse_lang(s: &str) -> Result<Lang, String> {
    match s {
        "zh" => Ok(Lang::Zh),
        "en" => Ok(Lang::En),
        _ => Err(format!("unknown language {s:?} (zh or en)")),
    }
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!("expected yes or no, got {s:?}")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    if let Command::Codes { lang, json } = cli.command {
        return print_codes(lang, json);
    }
    let settings = Settings::load(&cli.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        Command::Codes { .. } => unreachable!("handled above"),
        Command::CheckConfig => {
            println!(
                "{}: ok ({} NAS client(s) in the file, data in {})",
                cli.config.display(),
                settings.radius.clients.len(),
                settings.general.data_dir.display()
            );
            Ok(())
        }
        Command::Serve => {
            let _guard = turnstile::telemetry::init_logging(&settings.telemetry);
            runtime.block_on(turnstile::daemon::serve(settings))?;
            Ok(())
        }
        Command::User(cmd) => runtime.block_on(user_command(&settings, cmd)),
        Command::Nas(cmd) => runtime.block_on(nas_command(&settings, cmd)),
    }
}

fn print_codes(lang: Lang, json: bool) -> Result<()> {
    #[derive(Serialize)]
    struct Row {
        code: ECode,
        number: u32,
        family: turnstile::codes::Family,
        zh: &'static str,
        en: &'static str,
    }
    if json {
        let rows: Vec<Row> = ECode::ALL
            .iter()
            .map(|&c| Row {
                code: c,
                number: c.number(),
                family: c.family(),
                zh: c.zh(),
                en: c.en(),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for c in ECode::ALL {
            println!("{}", c.wire(lang));
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct UserView {
    name: String,
    enabled: bool,
    created_at: i64,
    updated_at: i64,
}

async fn user_command(settings: &Settings, cmd: UserCommand) -> Result<()> {
    let backend = Backend::open(settings).await?;
    let store = &backend.store;
    let lang = settings.general.language;
    let not_found = |name: &str| anyhow::anyhow!("{}: {name}", ECode::UserNotFound.wire(lang));
    let modified = |name: &str| println!("{}: {name}", ECode::UserModified.wire(lang));
    match cmd {
        UserCommand::Add { name, password } => {
            check_name(&name).map_err(anyhow::Error::msg)?;
            let record = backend.new_user(&name, password.read()?.as_bytes());
            store.add_user(&record).await?;
            println!("{}: {name}", ECode::UserCreated.wire(lang));
        }
        UserCommand::Del { name } => {
            if !store.delete_user(&name).await? {
                return Err(not_found(&name));
            }
            println!("deleted user {name}");
        }
        UserCommand::Passwd { name, password } => {
            let sealed = backend.seal_password(&name, password.read()?.as_bytes());
            if !store.set_password(&name, &sealed).await? {
                return Err(not_found(&name));
            }
            modified(&name);
        }
        UserCommand::Set {
            name,
            disabled,
            enabled,
        } => {
            if disabled == enabled {
                bail!("say --disabled or --enabled");
            }
            if !store.set_enabled(&name, enabled).await? {
                return Err(not_found(&name));
            }
            modified(&name);
        }
        UserCommand::List { json } => {
            let mut users: Vec<UserView> = Vec::new();
            store.for_each_user(&mut |u| users.push(view(u))).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                for u in users {
                    println!(
                        "{}\t{}",
                        u.name,
                        if u.enabled { "enabled" } else { "disabled" }
                    );
                }
            }
        }
        UserCommand::Show { name, json } => {
            let Some(user) = store.user(&name).await? else {
                return Err(not_found(&name));
            };
            let u = view(user);
            if json {
                println!("{}", serde_json::to_string_pretty(&u)?);
            } else {
                println!("name:     {}", u.name);
                println!(
                    "status:   {}",
                    if u.enabled { "enabled" } else { "disabled" }
                );
                println!("created:  {}", u.created_at);
                println!("updated:  {}", u.updated_at);
            }
        }
        UserCommand::Import { file } => {
            let started = Instant::now();
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let rows = import::parse(&text).with_context(|| format!("{}", file.display()))?;
            let records: Vec<_> = rows
                .iter()
                .map(|r| backend.new_user(r.name, r.password.as_bytes()))
                .collect();
            match store.import_users(&records).await {
                Ok(()) => {}
                Err(StoreError::UserExists(name)) => {
                    let line = rows.iter().find(|r| r.name == name).map_or(0, |r| r.line);
                    bail!(
                        "{}: line {line}: user {name:?} already exists; nothing imported",
                        file.display()
                    );
                }
                Err(e) => return Err(e.into()),
            }
            println!(
                "imported {} users in {} ms",
                records.len(),
                started.elapsed().as_millis()
            );
        }
    }
    Ok(())
}

fn view(u: turnstile::store::UserRecord) -> UserView {
    UserView {
        name: u.name,
        enabled: u.enabled,
        created_at: u.created_at,
        updated_at: u.updated_at,
    }
}

async fn nas_command(settings: &Settings, cmd: NasCommand) -> Result<()> {
    let backend = Backend::open(settings).await?;
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
