//! `turnstile product|billing-policy|control-policy|group|blacklist|ip-table|system`: the
//! policy catalog.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::args;
use super::{refusal, report};
use turnstile::catalog::{
    BillingKind, CatalogKind, CycleUnit, OverLimit, ShortBalance, SystemSwitches, TimeWindow,
    SYSTEM_OBJECT,
};
use turnstile::config::Settings;
use turnstile::mac::MacAddr;
use turnstile::ops::catalog::{self, Object};
use turnstile::store::Backend;

/// The common verbs of a named catalog object; `A` holds its fields.
#[derive(Subcommand)]
pub enum ObjectCommand<A: Args> {
    /// Create one.
    Add {
        /// Name.
        name: String,
        #[command(flatten)]
        fields: A,
    },
    /// Change the given fields of one.
    Set {
        /// Name.
        name: String,
        #[command(flatten)]
        fields: A,
    },
    /// List them.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete one.
    Del {
        /// Name.
        name: String,
        /// Delete even if other objects refer to it (their logins are then refused).
        #[arg(long)]
        force: bool,
    },
}

/// Fields of a product.
#[derive(Args)]
pub struct ProductArgs {
    /// Billing policy.
    #[arg(long)]
    billing_policy: Option<String>,
    /// Control policy.
    #[arg(long)]
    control_policy: Option<String>,
    /// Billing cycle unit: day, month or year (default month).
    #[arg(long)]
    cycle: Option<CycleUnit>,
    /// Units per cycle (default 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1200))]
    cycle_count: Option<u32>,
    /// Cycles from each instance's start (yes) or from calendar boundaries (no, default).
    #[arg(long, value_parser = args::yes_no)]
    anniversary: Option<bool>,
    /// When the balance cannot pay a cycle: skip (E7011), zero (E7012) or negative
    /// (E7013, default).
    #[arg(long)]
    short_balance: Option<ShortBalance>,
    /// Traffic in MiB below which a cycle is not charged (E7009); 0: none.
    #[arg(long)]
    min_mib: Option<u64>,
    /// Online minutes below which a cycle is not charged (E7010); 0: none.
    #[arg(long)]
    min_minutes: Option<u64>,
}

/// Fields of a billing policy.
#[derive(Args)]
pub struct BillingArgs {
    /// free, monthly, by-time or by-traffic.
    #[arg(long)]
    kind: Option<BillingKind>,
    /// Online hours included per cycle, or none (unlimited).
    #[arg(long, value_parser = args::count_or_none)]
    included_hours: Option<args::OrNone<u32>>,
    /// Traffic included per cycle in MiB, or none (unlimited).
    #[arg(long, value_parser = args::count_or_none)]
    included_mib: Option<args::OrNone<u32>>,
    /// Fee per billing cycle (the product's cycle), fen.
    #[arg(long, alias = "monthly-fee-fen", value_parser = clap::value_parser!(i64).range(0..=1_000_000_000_000))]
    cycle_fee_fen: Option<i64>,
    /// Price of an hour beyond the included time, fen (0: the time is a hard cap).
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=1_000_000_000_000))]
    fen_per_hour: Option<i64>,
    /// Price of a GiB beyond the included traffic, fen (0: the traffic is a hard cap).
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=1_000_000_000_000))]
    fen_per_gib: Option<i64>,
}

/// Fields of a control policy.
#[derive(Args)]
pub struct ControlArgs {
    /// Most sessions per user (0: unlimited).
    #[arg(long)]
    max_online: Option<u32>,
    /// When at the limit: refuse (E2620) or kick-oldest (E3008).
    #[arg(long)]
    over_limit: Option<OverLimit>,
    /// Upload limit, bit/s (2000000, 512k, 10M, 1G; 0: none).
    #[arg(long, value_parser = args::bandwidth)]
    up: Option<u64>,
    /// Download limit, bit/s.
    #[arg(long, value_parser = args::bandwidth)]
    down: Option<u64>,
    /// Allowed time window HH:MM-HH:MM, local time (repeatable; replaces the list).
    #[arg(long)]
    window: Vec<TimeWindow>,
    /// Remove every time window (always allowed).
    #[arg(long, conflicts_with = "window")]
    no_windows: bool,
    /// Idle-Timeout, seconds (0: none).
    #[arg(long)]
    idle_timeout: Option<u32>,
    /// Longest session, seconds (0: none).
    #[arg(long)]
    session_timeout: Option<u32>,
    /// Acct-Interim-Interval, seconds (0: none).
    #[arg(long)]
    interim: Option<u32>,
}

/// Fields of a group.
#[derive(Args)]
pub struct GroupArgs {
    /// Product for members who hold none, or none.
    #[arg(long, value_parser = args::name_or_none)]
    default_product: Option<args::OrNone<String>>,
    /// Control policy replacing the products' for members, or none.
    #[arg(long, value_parser = args::name_or_none)]
    control_policy: Option<args::OrNone<String>>,
}

/// Fields of a package plan.
#[derive(Args)]
pub struct PackagePlanArgs {
    /// Price, fen.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=1_000_000_000_000))]
    price_fen: Option<i64>,
    /// Extra online hours.
    #[arg(long)]
    extra_hours: Option<u64>,
    /// Extra traffic, MiB.
    #[arg(long)]
    extra_mib: Option<u64>,
    /// Days it stays valid after purchase.
    #[arg(long)]
    valid_days: Option<u32>,
    /// Only instances of this product may buy it, or none (any).
    #[arg(long, value_parser = args::name_or_none)]
    product: Option<args::OrNone<String>>,
}

/// `turnstile blacklist`.
#[derive(Subcommand)]
pub enum BlacklistCommand {
    /// List a MAC address (E2612) or an IP address or range (E2844).
    Add {
        #[command(flatten)]
        target: BlacklistTarget,
        /// Why, for operators.
        #[arg(long)]
        note: Option<String>,
    },
    /// Remove an entry.
    Del {
        #[command(flatten)]
        target: BlacklistTarget,
    },
    /// Show every entry.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `--mac MAC` or `--ip IP`.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct BlacklistTarget {
    /// A MAC address.
    #[arg(long)]
    mac: Option<MacAddr>,
    /// An IP address or CIDR range.
    #[arg(long)]
    ip: Option<String>,
}

impl BlacklistTarget {
    fn key(&self) -> (CatalogKind, String) {
        match (&self.mac, &self.ip) {
            (Some(mac), _) => (CatalogKind::MacBlacklist, mac.to_string()),
            (_, ip) => (CatalogKind::IpBlacklist, ip.clone().unwrap_or_default()),
        }
    }
}

/// `turnstile ip-table`.
#[derive(Subcommand)]
pub enum IpTableCommand {
    /// Add a range. Once any allowed range exists, logins from elsewhere are refused
    /// (E2843); a --no-auth range is online without logging in (E2842).
    Add {
        /// IP address or CIDR range.
        range: String,
        /// Addresses here need no authentication.
        #[arg(long)]
        no_auth: bool,
    },
    /// Remove a range.
    Del {
        /// IP address or CIDR range.
        range: String,
    },
    /// Show every range.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `turnstile system`.
#[derive(Subcommand)]
pub enum SystemCommand {
    /// Change switches.
    Set {
        /// false refuses every login with E2535.
        #[arg(long, value_parser = args::yes_no)]
        auth_enabled: Option<bool>,
        /// Most sessions online at once (0: unlimited; E2621 beyond).
        #[arg(long)]
        licensed_online: Option<u32>,
    },
    /// Show the switches.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The fields a command gives, as the JSON fields of the object (units converted).
trait Fields: Args {
    /// The kind these are fields of.
    const KIND: CatalogKind;
    /// The fields given, by their stored names.
    fn fields(&self) -> Map<String, Value>;
}

/// Adds `key` when the flag was given.
fn put<T: Serialize>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.into(), serde_json::to_value(v).unwrap_or(Value::Null));
    }
}

impl Fields for ProductArgs {
    const KIND: CatalogKind = CatalogKind::Product;
    fn fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        put(&mut m, "billing_policy", self.billing_policy.as_ref());
        put(&mut m, "control_policy", self.control_policy.as_ref());
        put(&mut m, "cycle", self.cycle);
        put(&mut m, "cycle_count", self.cycle_count);
        put(&mut m, "anniversary", self.anniversary);
        put(&mut m, "short_balance", self.short_balance);
        put(
            &mut m,
            "min_bytes",
            self.min_mib.map(|v| v.saturating_mul(1 << 20)),
        );
        put(
            &mut m,
            "min_secs",
            self.min_minutes.map(|v| v.saturating_mul(60)),
        );
        m
    }
}

impl Fields for BillingArgs {
    const KIND: CatalogKind = CatalogKind::BillingPolicy;
    fn fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        put(&mut m, "kind", self.kind);
        put(
            &mut m,
            "included_secs",
            self.included_hours
                .map(|h| h.into_option().map(|h| u64::from(h) * 3600)),
        );
        put(
            &mut m,
            "included_bytes",
            self.included_mib
                .map(|v| v.into_option().map(|v| u64::from(v) << 20)),
        );
        put(&mut m, "cycle_fee_fen", self.cycle_fee_fen);
        put(&mut m, "fen_per_hour", self.fen_per_hour);
        put(&mut m, "fen_per_gib", self.fen_per_gib);
        m
    }
}

impl Fields for ControlArgs {
    const KIND: CatalogKind = CatalogKind::ControlPolicy;
    fn fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        put(&mut m, "max_online", self.max_online);
        put(&mut m, "over_limit", self.over_limit);
        put(&mut m, "up_bps", self.up);
        put(&mut m, "down_bps", self.down);
        if self.no_windows {
            put(&mut m, "windows", Some(Vec::<TimeWindow>::new()));
        } else if !self.window.is_empty() {
            put(&mut m, "windows", Some(&self.window));
        }
        put(&mut m, "idle_timeout_secs", self.idle_timeout);
        put(&mut m, "session_timeout_secs", self.session_timeout);
        put(&mut m, "interim_secs", self.interim);
        m
    }
}

impl Fields for GroupArgs {
    const KIND: CatalogKind = CatalogKind::Group;
    fn fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        put(
            &mut m,
            "default_product",
            self.default_product.clone().map(args::OrNone::into_option),
        );
        put(
            &mut m,
            "control_policy",
            self.control_policy.clone().map(args::OrNone::into_option),
        );
        m
    }
}

impl Fields for PackagePlanArgs {
    const KIND: CatalogKind = CatalogKind::PackagePlan;
    fn fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        put(&mut m, "price_fen", self.price_fen);
        put(
            &mut m,
            "extra_secs",
            self.extra_hours.map(|h| h.saturating_mul(3600)),
        );
        put(
            &mut m,
            "extra_bytes",
            self.extra_mib.map(|v| v.saturating_mul(1 << 20)),
        );
        put(&mut m, "valid_days", self.valid_days);
        put(
            &mut m,
            "product",
            self.product.clone().map(args::OrNone::into_option),
        );
        m
    }
}

fn print_objects(rows: &[Object], json: bool) -> Result<()> {
    if json {
        let map: Map<String, Value> = rows
            .iter()
            .map(|o| (o.name.clone(), Value::Object(o.body.clone())))
            .collect();
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else {
        for o in rows {
            println!("{}\t{}", o.name, Value::Object(o.body.clone()));
        }
    }
    Ok(())
}

async fn object_command<F: Fields>(settings: &Settings, cmd: ObjectCommand<F>) -> Result<()> {
    let backend = Backend::open(&turnstile::store::OpenOptions::for_settings(settings)?).await?;
    let lang = settings.general.language;
    let refused = refusal(lang);
    let kind = F::KIND;
    match cmd {
        ObjectCommand::Add { name, fields } => {
            let done = catalog::create(&backend, kind, &name, Value::Object(fields.fields()))
                .await
                .map_err(refused)?;
            report(lang, &done, &format!("added {kind} {name}"));
        }
        ObjectCommand::Set { name, fields } => {
            let done = catalog::update(&backend, kind, &name, Value::Object(fields.fields()))
                .await
                .map_err(refused)?;
            report(lang, &done, &format!("changed {kind} {name}"));
        }
        ObjectCommand::List { json } => {
            print_objects(
                &catalog::list(&backend, &[kind]).await.map_err(refused)?,
                json,
            )?;
        }
        ObjectCommand::Del { name, force } => {
            catalog::delete(&backend, kind, &name, force)
                .await
                .map_err(refused)?;
            println!("deleted {kind} {name}");
        }
    }
    Ok(())
}

/// `turnstile product`.
pub async fn product(settings: &Settings, cmd: ObjectCommand<ProductArgs>) -> Result<()> {
    object_command(settings, cmd).await
}

/// `turnstile billing-policy`.
pub async fn billing_policy(settings: &Settings, cmd: ObjectCommand<BillingArgs>) -> Result<()> {
    object_command(settings, cmd).await
}

/// `turnstile control-policy`.
pub async fn control_policy(settings: &Settings, cmd: ObjectCommand<ControlArgs>) -> Result<()> {
    object_command(settings, cmd).await
}

/// `turnstile package-plan`.
pub async fn package_plan(settings: &Settings, cmd: ObjectCommand<PackagePlanArgs>) -> Result<()> {
    object_command(settings, cmd).await
}

/// `turnstile group`.
pub async fn group(settings: &Settings, cmd: ObjectCommand<GroupArgs>) -> Result<()> {
    object_command(settings, cmd).await
}

/// `turnstile blacklist`.
pub async fn blacklist(settings: &Settings, cmd: BlacklistCommand) -> Result<()> {
    let backend = Backend::open(&turnstile::store::OpenOptions::for_settings(settings)?).await?;
    let refused = refusal(settings.general.language);
    match cmd {
        BlacklistCommand::Add { target, note } => {
            let (kind, name) = target.key();
            catalog::create(&backend, kind, &name, json!({ "note": note }))
                .await
                .map_err(refused)?;
            println!("blacklisted {name}");
        }
        BlacklistCommand::Del { target } => {
            let (kind, name) = target.key();
            catalog::delete(&backend, kind, &name, false)
                .await
                .map_err(refused)?;
            println!("removed {name} from the blacklist");
        }
        BlacklistCommand::List { json } => {
            let kinds = [CatalogKind::MacBlacklist, CatalogKind::IpBlacklist];
            print_objects(
                &catalog::list(&backend, &kinds).await.map_err(refused)?,
                json,
            )?;
        }
    }
    Ok(())
}

/// `turnstile ip-table`.
pub async fn ip_table(settings: &Settings, cmd: IpTableCommand) -> Result<()> {
    let backend = Backend::open(&turnstile::store::OpenOptions::for_settings(settings)?).await?;
    let refused = refusal(settings.general.language);
    let kind = CatalogKind::IpRange;
    match cmd {
        IpTableCommand::Add { range, no_auth } => {
            catalog::create(&backend, kind, &range, json!({ "no_auth": no_auth }))
                .await
                .map_err(refused)?;
            println!(
                "added {}{}",
                catalog::canonical_name(kind, &range).unwrap_or(range),
                if no_auth { " (no authentication)" } else { "" }
            );
        }
        IpTableCommand::Del { range } => {
            catalog::delete(&backend, kind, &range, false)
                .await
                .map_err(refused)?;
            println!("removed {range}");
        }
        IpTableCommand::List { json } => {
            print_objects(
                &catalog::list(&backend, &[kind]).await.map_err(refused)?,
                json,
            )?;
        }
    }
    Ok(())
}

/// `turnstile system`.
pub async fn system(settings: &Settings, cmd: SystemCommand) -> Result<()> {
    let backend = Backend::open(&turnstile::store::OpenOptions::for_settings(settings)?).await?;
    let refused = refusal(settings.general.language);
    let kind = CatalogKind::System;
    match cmd {
        SystemCommand::Set {
            auth_enabled,
            licensed_online,
        } => {
            let mut fields = Map::new();
            put(&mut fields, "auth_enabled", auth_enabled);
            put(&mut fields, "licensed_online", licensed_online);
            catalog::update(&backend, kind, SYSTEM_OBJECT, Value::Object(fields))
                .await
                .map_err(&refused)?;
            let now = catalog::get(&backend, kind, SYSTEM_OBJECT)
                .await
                .map_err(refused)?;
            let s: SystemSwitches = serde_json::from_value(Value::Object(now.body))?;
            println!(
                "authentication {}, licensed online {}",
                if s.auth_enabled {
                    "enabled"
                } else {
                    "disabled"
                },
                if s.licensed_online == 0 {
                    "unlimited".to_string()
                } else {
                    s.licensed_online.to_string()
                }
            );
        }
        SystemCommand::Show { json } => {
            let now = catalog::get(&backend, kind, SYSTEM_OBJECT)
                .await
                .map_err(refused)?;
            let s: SystemSwitches = serde_json::from_value(Value::Object(now.body))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("auth_enabled:    {}", s.auth_enabled);
                println!("licensed_online: {}", s.licensed_online);
            }
        }
    }
    Ok(())
}
