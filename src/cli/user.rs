//! `turnstile user …`: accounts, their profile, bindings and product instances.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use super::args::{self, OrNone};
use super::{refusal, report};
use turnstile::account::Binding;
use turnstile::codes::ECode;
use turnstile::config::Settings;
use turnstile::mac::MacAddr;
use turnstile::ops::users::{self, InstanceView, NewUser, UserDetail, UserFilter, UserUpdate};
use turnstile::ops::OpsError;
use turnstile::store::Backend;

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
    /// List users, by name (every match, or one page with --page).
    List {
        #[command(flatten)]
        filter: ListFilter,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Allow a user's logins again (E5010).
    Enable {
        /// User name.
        name: String,
    },
    /// Refuse a user's logins with E2606 (E5010).
    Disable {
        /// User name.
        name: String,
    },
    /// Move a user to a group, or out of any with `none` (E5030; E5031 if there is no
    /// such group).
    Group {
        /// User name.
        name: String,
        /// Group, or none.
        #[arg(value_parser = args::name_or_none)]
        group: OrNone<String>,
    },
    /// Add a binding (E5052 MAC, E5054 NAS port, E5056 VLAN, E5058 IP).
    Bind(BindArgs),
    /// Remove a binding (E5053, E5055, E5057, E5059).
    Unbind(BindArgs),
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

/// Filters of `turnstile user list`.
#[derive(Args)]
pub struct ListFilter {
    /// Only this page (from 1) of --limit users.
    #[arg(long)]
    page: Option<u64>,
    /// Users per page (at most 1000).
    #[arg(long)]
    limit: Option<u32>,
    /// Names containing this text.
    #[arg(long)]
    name: Option<String>,
    /// Members of this group.
    #[arg(long)]
    group: Option<String>,
    /// Only enabled (yes) or disabled (no) users.
    #[arg(long, value_parser = args::yes_no)]
    enabled: Option<bool>,
    /// Holders of this product.
    #[arg(long)]
    product: Option<String>,
}

/// `turnstile user bind|unbind NAME KIND VALUE`.
#[derive(Args)]
pub struct BindArgs {
    /// User name.
    name: String,
    /// mac, ip, nas, nas_port, vlan or device.
    kind: String,
    /// The MAC, IP, NAS, NAS-Port-Id, VLAN id or device id.
    value: String,
}

impl BindArgs {
    fn binding(&self) -> Result<Binding, OpsError> {
        Binding::parse(&self.kind, &self.value).map_err(|e| OpsError::invalid(e.to_string()))
    }
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
        Ok(password)
    }
}

impl SetArgs {
    fn update(&self) -> UserUpdate {
        let mut bind: Vec<Binding> = self.bind_mac.iter().map(|m| Binding::Mac(*m)).collect();
        bind.extend(self.bind_ip.iter().map(|ip| Binding::Ip(*ip)));
        bind.extend(self.bind_nas.iter().cloned().map(Binding::Nas));
        bind.extend(self.bind_nas_port.iter().cloned().map(Binding::NasPort));
        bind.extend(self.bind_vlan.iter().map(|v| Binding::Vlan(*v)));
        bind.extend(self.bind_device.iter().cloned().map(Binding::Device));
        UserUpdate {
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
            add_products: self.product.clone(),
            remove_products: self.remove_product.clone(),
            unbind_all: self.unbind_all,
            unbind: Vec::new(),
            bind,
        }
    }
}

/// Runs a `turnstile user` command.
pub async fn run(settings: &Settings, cmd: UserCommand) -> Result<()> {
    let backend = Backend::open(&turnstile::store::OpenOptions::for_settings(settings)?).await?;
    let b = &backend;
    let lang = settings.general.language;
    let refused = refusal(lang);
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
            let new = NewUser {
                password: password.read()?,
                group,
                products: product,
                expires_at: expire.and_then(OrNone::into_option),
                balance_fen: balance.unwrap_or(0),
                phone,
                max_online,
                enabled: true,
                bindings: Vec::new(),
                name: name.clone(),
            };
            let done = users::create(b, new).await.map_err(refused)?;
            report(lang, &done, &name);
        }
        UserCommand::Del { name } => {
            users::delete(b, &name).await.map_err(refused)?;
            println!("deleted user {name}");
        }
        UserCommand::Passwd { name, password } => {
            let done = users::set_password(b, &name, &password.read()?)
                .await
                .map_err(refused)?;
            report(lang, &done, &name);
        }
        UserCommand::Enable { name } => {
            let done = users::set_enabled(b, &name, true).await.map_err(refused)?;
            report(lang, &done, &name);
        }
        UserCommand::Disable { name } => {
            let done = users::set_enabled(b, &name, false).await.map_err(refused)?;
            report(lang, &done, &name);
        }
        UserCommand::Group { name, group } => {
            let done = users::change_group(b, &name, group.into_option().as_deref())
                .await
                .map_err(refused)?;
            report(lang, &done, &name);
        }
        UserCommand::Bind(arg) => {
            let binding = arg.binding().map_err(&refused)?;
            let done = users::bind(b, &arg.name, binding).await.map_err(refused)?;
            report(lang, &done, &arg.name);
        }
        UserCommand::Unbind(arg) => {
            let binding = arg.binding().map_err(&refused)?;
            let done = users::unbind(b, &arg.name, binding)
                .await
                .map_err(refused)?;
            report(lang, &done, &arg.name);
        }
        UserCommand::Set(set) => {
            let done = users::update(b, &set.name, &set.update())
                .await
                .map_err(refused)?;
            report(lang, &done, &set.name);
        }
        UserCommand::List { filter, json } => {
            // Without --page, every matching user, a page at a time.
            let mut rows = Vec::new();
            let mut page = filter.page.unwrap_or(1);
            loop {
                let f = UserFilter {
                    page: Some(page),
                    limit: Some(filter.limit.unwrap_or(users::MAX_PAGE)),
                    name: filter.name.clone(),
                    group: filter.group.clone(),
                    enabled: filter.enabled,
                    product: filter.product.clone(),
                };
                let got = users::list(b, &f).await.map_err(&refused)?;
                let more = filter.page.is_none() && got.users.len() == got.limit as usize;
                rows.extend(got.users);
                if !more {
                    break;
                }
                page += 1;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for u in rows {
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
            let user = users::get(b, &name).await.map_err(refused)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&user)?);
            } else {
                print_user(&user);
            }
        }
        UserCommand::Import { file } => {
            let started = Instant::now();
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let n = users::import(b, &text)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.message(lang)))?;
            println!(
                "{}: imported {n} users in {} ms",
                ECode::UserCreated.wire(lang),
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

fn print_user(detail: &UserDetail) {
    let u = &detail.user;
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
    let bindings: Vec<String> = u.bindings.iter().map(Binding::to_string).collect();
    println!("bindings:    {}", bindings.join(" "));
    for InstanceView { instance: h, usage } in &detail.instances {
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
