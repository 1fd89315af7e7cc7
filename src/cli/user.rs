//! `turnstile user …`: accounts, their profile, bindings and product instances.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use super::args::{self, OrNone};
use turnstile::account::{Binding, Holding, Profile, ProfilePatch, Usage, UserChange};
use turnstile::catalog::CatalogKind;
use turnstile::codes::ECode;
use turnstile::config::Settings;
use turnstile::mac::MacAddr;
use turnstile::store::billing::Account;
use turnstile::store::import::{self, check_name, check_password};
use turnstile::store::{Backend, StoreError, UserRecord};

/// `turnstile user`.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        /// User name.
        name: String,
        #[command(flatten)]
        password: PasswordArg,
        /// Group.
        #[arg(long)]
        group: Option<String>,
        /// Product the user holds (repeat for several).
        #[arg(long)]
        product: Vec<String>,
        /// Last day the account is valid, YYYY-MM-DD (local time).
        #[arg(long, value_parser = args::expiry)]
        expire: Option<OrNone<i64>>,
        /// Balance in fen.
        #[arg(long, allow_hyphen_values = true)]
        balance: Option<i64>,
        /// Phone number.
        #[arg(long)]
        phone: Option<String>,
        /// Most sessions at once (overrides the control policy).
        #[arg(long)]
        max_online: Option<u32>,
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
    /// Change a user's status, profile, bindings or products.
    Set(Box<SetArgs>),
}

/// `turnstile user set NAME …`.
#[derive(Args)]
pub struct SetArgs {
    /// User name.
    name: String,
    /// Allow the user's logins again.
    #[arg(long, conflicts_with = "disabled")]
    enabled: bool,
    /// Refuse the user's logins (E2606).
    #[arg(long)]
    disabled: bool,
    /// Last valid day, YYYY-MM-DD, or none.
    #[arg(long, value_parser = args::expiry)]
    expire: Option<OrNone<i64>>,
    /// Wallet balance in fen, set outright (below zero is arrearage, E2616); payments
    /// (`turnstile pay`) are recorded in the ledger, this is not.
    #[arg(long, allow_hyphen_values = true)]
    balance: Option<i64>,
    /// Group, or none.
    #[arg(long, value_parser = args::name_or_none)]
    group: Option<OrNone<String>>,
    /// Phone number, or none.
    #[arg(long, value_parser = args::name_or_none)]
    phone: Option<OrNone<String>>,
    /// Most sessions at once, or none (the control policy decides).
    #[arg(long, value_parser = args::count_or_none)]
    max_online: Option<OrNone<u32>>,
    /// Spending cap of the cycle in fen, or none (E2617 once reached).
    #[arg(long, value_parser = args::fen_or_none)]
    consumption_limit: Option<OrNone<i64>>,
    /// May log in through RADIUS (E2607 when no).
    #[arg(long, value_parser = args::yes_no)]
    radius: Option<bool>,
    /// May log in through the portal (E2607 when no).
    #[arg(long, value_parser = args::yes_no)]
    portal: Option<bool>,
    /// Ban for proxy/sharing behaviour until TIME (date, date and time, or 30m/2h/7d), or none (E2534).
    #[arg(long, value_parser = args::moment)]
    ban_until: Option<OrNone<i64>>,
    /// Give the user an instance of this product (repeatable).
    #[arg(long)]
    product: Vec<String>,
    /// Take an instance of this product away (repeatable).
    #[arg(long)]
    remove_product: Vec<String>,
    /// Remove every binding (before adding the ones given here).
    #[arg(long)]
    unbind_all: bool,
    /// Bind to a MAC address (repeatable; E2614 for others).
    #[arg(long)]
    bind_mac: Vec<MacAddr>,
    /// Bind to an IP address (repeatable; E2615 for others).
    #[arg(long)]
    bind_ip: Vec<std::net::IpAddr>,
    /// Bind to a NAS: its IP, NAS-Identifier or client name (repeatable; E2613).
    #[arg(long)]
    bind_nas: Vec<String>,
    /// Bind to a NAS-Port-Id, exactly as the NAS sends it (repeatable; E2613).
    #[arg(long)]
    bind_nas_port: Vec<String>,
    /// Bind to a VLAN id read from NAS-Port-Id (repeatable; E2613).
    #[arg(long)]
    bind_vlan: Vec<u16>,
    /// Bind to a device id: Calling-Station-Id exactly (repeatable; E2611).
    #[arg(long)]
    bind_device: Vec<String>,
}

/// `--password P`, or `-` to read it from standard input.
#[derive(Args)]
pub struct PasswordArg {
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

impl SetArgs {
    fn patch(&self) -> ProfilePatch {
        ProfilePatch {
            enabled: (self.enabled || self.disabled).then_some(self.enabled),
            group: self.group.clone().map(OrNone::into_option),
            expires_at: self.expire.map(OrNone::into_option),
            balance_fen: self.balance,
            phone: self.phone.clone().map(OrNone::into_option),
            max_online: self.max_online.map(OrNone::into_option),
            allow_radius: self.radius,
            allow_portal: self.portal,
            banned_until: self.ban_until.map(OrNone::into_option),
            consumption_limit_fen: self.consumption_limit.map(OrNone::into_option),
        }
    }

    fn bindings(&self) -> Vec<Binding> {
        let mut out: Vec<Binding> = self.bind_mac.iter().map(|m| Binding::Mac(*m)).collect();
        out.extend(self.bind_ip.iter().map(|ip| Binding::Ip(*ip)));
        out.extend(self.bind_nas.iter().cloned().map(Binding::Nas));
        out.extend(self.bind_nas_port.iter().cloned().map(Binding::NasPort));
        out.extend(self.bind_vlan.iter().map(|v| Binding::Vlan(*v)));
        out.extend(self.bind_device.iter().cloned().map(Binding::Device));
        out
    }
}

/// Warns when a user refers to a product or group that does not exist (yet): the
/// operator may be about to create it, but logins are refused until then.
async fn warn_missing(backend: &Backend, kind: CatalogKind, names: &[&str]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let catalog = backend.store.catalog().await?;
    for name in names {
        if !catalog.iter().any(|r| r.kind == kind && r.name == *name) {
            eprintln!(
                "warning: no {kind} {name:?} exists yet; logins that need it are refused (E2806)"
            );
        }
    }
    Ok(())
}

/// Runs a `turnstile user` command.
pub async fn run(settings: &Settings, cmd: UserCommand) -> Result<()> {
    let backend = Backend::open(&settings.store_options()).await?;
    let store = &backend.store;
    let lang = settings.general.language;
    let not_found = |name: &str| anyhow::anyhow!("{}: {name}", ECode::UserNotFound.wire(lang));
    match cmd {
        UserCommand::Add {
            name,
            password,
            group,
            product,
            expire,
            balance,
            phone,
            max_online,
        } => {
            check_name(&name).map_err(anyhow::Error::msg)?;
            let mut record = backend.new_user(&name, password.read()?.as_bytes());
            record.profile = Profile {
                group: group.clone(),
                expires_at: expire.and_then(OrNone::into_option),
                balance_fen: balance.unwrap_or(0),
                phone,
                max_online,
                ..Profile::default()
            };
            let now = turnstile::store::unix_now();
            record.holdings = product.iter().map(|p| Holding::new(p, now)).collect();
            match store.add_user(&record).await {
                Err(StoreError::UserExists(_)) => {
                    bail!("{}: {name}", ECode::UserExists.wire(lang))
                }
                other => other?,
            }
            println!("{}: {name}", ECode::UserCreated.wire(lang));
            let products: Vec<&str> = product.iter().map(String::as_str).collect();
            warn_missing(&backend, CatalogKind::Product, &products).await?;
            if let Some(g) = &group {
                warn_missing(&backend, CatalogKind::Group, &[g]).await?;
            }
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
            println!("{}: {name}", ECode::UserModified.wire(lang));
        }
        UserCommand::Set(set) => {
            let name = set.name.as_str();
            let change = UserChange {
                profile: set.patch(),
                clear_bindings: set.unbind_all,
                add_bindings: set.bindings(),
                add_products: set.product.clone(),
                remove_products: set.remove_product.clone(),
            };
            if !store.change_user(name, &change).await? {
                return Err(not_found(name));
            }
            println!("{}: {name}", ECode::UserModified.wire(lang));
            let products: Vec<&str> = set.product.iter().map(String::as_str).collect();
            warn_missing(&backend, CatalogKind::Product, &products).await?;
            if let Some(OrNone::Value(g)) = &set.group {
                warn_missing(&backend, CatalogKind::Group, &[g]).await?;
            }
        }
        UserCommand::List { json } => {
            let mut users: Vec<UserView> = Vec::new();
            store
                .for_each_user(&mut |u| users.push(UserView::from(u)))
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                for u in users {
                    println!(
                        "{}\t{}\tgroup={}\tproducts={}",
                        u.name,
                        status(u.enabled),
                        u.profile.group.as_deref().unwrap_or("-"),
                        u.products.join(",")
                    );
                }
            }
        }
        UserCommand::Show { name, json } => {
            let Some(user) = store.user(&name).await? else {
                return Err(not_found(&name));
            };
            let account = store.account(&name).await?.unwrap_or_else(|| Account {
                user: name.clone(),
                wallet_fen: user.profile.balance_fen,
                holdings: Vec::new(),
                packages: Vec::new(),
            });
            let u = UserView::from(user);
            if json {
                let mut v = serde_json::to_value(&u)?;
                v["instances"] = serde_json::to_value(
                    account
                        .holdings
                        .iter()
                        .map(|(h, usage)| serde_json::json!({"instance": h, "usage": usage}))
                        .collect::<Vec<_>>(),
                )?;
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_user(&u, &account.holdings);
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

fn status(enabled: bool) -> &'static str {
    if enabled {
        "enabled"
    } else {
        "disabled"
    }
}

/// A user as the CLI prints it (never the password).
#[derive(Serialize)]
struct UserView {
    name: String,
    enabled: bool,
    created_at: i64,
    updated_at: i64,
    #[serde(flatten)]
    profile: Profile,
    bindings: Vec<String>,
    products: Vec<String>,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        UserView {
            name: u.name,
            enabled: u.enabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
            profile: u.profile,
            bindings: u.bindings.iter().map(Binding::to_string).collect(),
            products: u.holdings.into_iter().map(|h| h.product).collect(),
        }
    }
}

fn print_user(u: &UserView, holdings: &[(Holding, Usage)]) {
    let time = |t: Option<i64>| {
        t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map_or("-".to_string(), |t| {
                t.with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
    };
    let p = &u.profile;
    println!("name:        {}", u.name);
    println!("status:      {}", status(u.enabled));
    println!("group:       {}", p.group.as_deref().unwrap_or("-"));
    println!("expires:     {}", time(p.expires_at));
    println!("wallet:      {} fen", p.balance_fen);
    println!("phone:       {}", p.phone.as_deref().unwrap_or("-"));
    println!(
        "max online:  {}",
        p.max_online.map_or("-".into(), |m| m.to_string())
    );
    println!(
        "interfaces:  radius={} portal={}",
        if p.allow_radius { "yes" } else { "no" },
        if p.allow_portal { "yes" } else { "no" }
    );
    println!("banned until: {}", time(p.banned_until));
    println!(
        "consumption limit: {}",
        p.consumption_limit_fen
            .map_or("-".into(), |f| format!("{f} fen"))
    );
    println!("bindings:    {}", u.bindings.join(" "));
    for (h, usage) in holdings {
        let end = if h.cycle_end > 0 {
            time(Some(h.cycle_end))
        } else {
            "(at the next settlement run)".into()
        };
        println!(
            "product:     {} balance {} fen, cycle {} → {}, used {} s, {} bytes in, {} bytes out, {} logins",
            h.product,
            h.balance_fen,
            time(Some(h.cycle_start)),
            end,
            usage.secs,
            usage.bytes_in,
            usage.bytes_out,
            usage.logins
        );
    }
    println!("created:     {}", time(Some(u.created_at)));
    println!("updated:     {}", time(Some(u.updated_at)));
}
