//! `turnstile product|billing-policy|control-policy|group|blacklist|ip-table|system`: the
//! policy catalog.

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::args;
use turnstile::catalog::{
    check_object_name, BillingKind, BillingPolicy, BlacklistEntry, CatalogKind, CatalogRow,
    ControlPolicy, CycleUnit, Group, IpRange, OverLimit, PackagePlan, Product, ShortBalance,
    SystemSwitches, TimeWindow, SYSTEM_OBJECT,
};
use turnstile::config::{parse_address_range, Settings};
use turnstile::mac::MacAddr;
use turnstile::store::{Backend, Put, StoreError};

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
    fn key(&self) -> Result<(CatalogKind, String)> {
        match (&self.mac, &self.ip) {
            (Some(mac), _) => Ok((CatalogKind::MacBlacklist, mac.to_string())),
            (_, Some(ip)) => Ok((
                CatalogKind::IpBlacklist,
                parse_address_range(ip)
                    .map_err(anyhow::Error::msg)?
                    .to_string(),
            )),
            _ => bail!("say --mac or --ip"),
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

/// A catalog object type the generic verbs work on.
trait Object: Serialize + DeserializeOwned + Sized {
    const KIND: CatalogKind;
    type Fields: Args;
    /// A new object from the fields given to `add`.
    fn create(fields: &Self::Fields) -> Result<Self>;
    /// Applies the fields given to `set`.
    fn apply(&mut self, fields: &Self::Fields);
    /// Names of objects of `kind` this one refers to.
    fn refers_to(&self, _kind: CatalogKind) -> Vec<&str> {
        Vec::new()
    }
}

impl Object for Product {
    const KIND: CatalogKind = CatalogKind::Product;
    type Fields = ProductArgs;
    fn create(f: &ProductArgs) -> Result<Self> {
        let billing = f
            .billing_policy
            .as_deref()
            .ok_or_else(|| anyhow!("--billing-policy is required"))?;
        let control = f
            .control_policy
            .as_deref()
            .ok_or_else(|| anyhow!("--control-policy is required"))?;
        let mut p = Product::new(billing, control);
        p.apply(f);
        Ok(p)
    }
    fn apply(&mut self, f: &ProductArgs) {
        if let Some(b) = &f.billing_policy {
            self.billing_policy = b.clone();
        }
        if let Some(c) = &f.control_policy {
            self.control_policy = c.clone();
        }
        macro_rules! copy {
            ($($field:ident <- $value:expr),*) => {$(
                if let Some(v) = $value { self.$field = v; }
            )*};
        }
        copy!(cycle <- f.cycle, cycle_count <- f.cycle_count, anniversary <- f.anniversary,
              short_balance <- f.short_balance, min_bytes <- f.min_mib.map(|m| m.saturating_mul(1 << 20)),
              min_secs <- f.min_minutes.map(|m| m.saturating_mul(60)));
    }
    fn refers_to(&self, kind: CatalogKind) -> Vec<&str> {
        match kind {
            CatalogKind::BillingPolicy => vec![&self.billing_policy],
            CatalogKind::ControlPolicy => vec![&self.control_policy],
            _ => Vec::new(),
        }
    }
}

impl Object for BillingPolicy {
    const KIND: CatalogKind = CatalogKind::BillingPolicy;
    type Fields = BillingArgs;
    fn create(f: &BillingArgs) -> Result<Self> {
        let mut b = BillingPolicy::default();
        b.apply(f);
        Ok(b)
    }
    fn apply(&mut self, f: &BillingArgs) {
        if let Some(k) = f.kind {
            self.kind = k;
        }
        if let Some(h) = f.included_hours {
            self.included_secs = h.into_option().map(|h| u64::from(h) * 3600);
        }
        if let Some(m) = f.included_mib {
            self.included_bytes = m.into_option().map(|m| u64::from(m) << 20);
        }
        if let Some(v) = f.cycle_fee_fen {
            self.cycle_fee_fen = v;
        }
        if let Some(v) = f.fen_per_hour {
            self.fen_per_hour = v;
        }
        if let Some(v) = f.fen_per_gib {
            self.fen_per_gib = v;
        }
    }
}

impl Object for ControlPolicy {
    const KIND: CatalogKind = CatalogKind::ControlPolicy;
    type Fields = ControlArgs;
    fn create(f: &ControlArgs) -> Result<Self> {
        let mut c = ControlPolicy::default();
        c.apply(f);
        Ok(c)
    }
    fn apply(&mut self, f: &ControlArgs) {
        macro_rules! copy {
            ($($field:ident <- $arg:ident),*) => {$(
                if let Some(v) = f.$arg { self.$field = v; }
            )*};
        }
        copy!(max_online <- max_online, over_limit <- over_limit, up_bps <- up,
              down_bps <- down, idle_timeout_secs <- idle_timeout,
              session_timeout_secs <- session_timeout, interim_secs <- interim);
        if f.no_windows {
            self.windows.clear();
        } else if !f.window.is_empty() {
            self.windows = f.window.clone();
        }
    }
}

impl Object for PackagePlan {
    const KIND: CatalogKind = CatalogKind::PackagePlan;
    type Fields = PackagePlanArgs;
    fn create(f: &PackagePlanArgs) -> Result<Self> {
        if f.valid_days.is_none() {
            bail!("--valid-days is required");
        }
        let mut p = PackagePlan::default();
        p.apply(f);
        Ok(p)
    }
    fn apply(&mut self, f: &PackagePlanArgs) {
        if let Some(v) = f.price_fen {
            self.price_fen = v;
        }
        if let Some(h) = f.extra_hours {
            self.extra_secs = h.saturating_mul(3600);
        }
        if let Some(m) = f.extra_mib {
            self.extra_bytes = m.saturating_mul(1 << 20);
        }
        if let Some(d) = f.valid_days {
            self.valid_days = d;
        }
        if let Some(p) = &f.product {
            self.product = p.clone().into_option();
        }
    }
    fn refers_to(&self, kind: CatalogKind) -> Vec<&str> {
        match kind {
            CatalogKind::Product => self.product.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

impl Object for Group {
    const KIND: CatalogKind = CatalogKind::Group;
    type Fields = GroupArgs;
    fn create(f: &GroupArgs) -> Result<Self> {
        let mut g = Group::default();
        g.apply(f);
        Ok(g)
    }
    fn apply(&mut self, f: &GroupArgs) {
        if let Some(p) = &f.default_product {
            self.default_product = p.clone().into_option();
        }
        if let Some(c) = &f.control_policy {
            self.control_policy = c.clone().into_option();
        }
    }
    fn refers_to(&self, kind: CatalogKind) -> Vec<&str> {
        match kind {
            CatalogKind::Product => self.default_product.iter().map(String::as_str).collect(),
            CatalogKind::ControlPolicy => self.control_policy.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Catalog objects of the given kinds, by name, read as `T`.
async fn rows_of<T: DeserializeOwned>(
    backend: &Backend,
    kinds: &[CatalogKind],
) -> Result<Vec<(String, T)>> {
    backend
        .store
        .catalog()
        .await?
        .into_iter()
        .filter(|r| kinds.contains(&r.kind))
        .map(|r| Ok((r.name.clone(), r.parse()?)))
        .collect()
}

async fn find<T: Object>(backend: &Backend, name: &str) -> Result<Option<T>> {
    Ok(rows_of::<T>(backend, &[T::KIND])
        .await?
        .into_iter()
        .find_map(|(n, object)| (n == name).then_some(object)))
}

/// Objects that refer to `name` of `kind`, as "kind name" strings.
async fn referrers(backend: &Backend, kind: CatalogKind, name: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for row in backend.store.catalog().await? {
        let names = match row.kind {
            CatalogKind::Product => row
                .parse::<Product>()
                .map(|p| p.refers_to(kind).contains(&name)),
            CatalogKind::Group => row
                .parse::<Group>()
                .map(|g| g.refers_to(kind).contains(&name)),
            CatalogKind::PackagePlan => row
                .parse::<PackagePlan>()
                .map(|p| p.refers_to(kind).contains(&name)),
            _ => Ok(false),
        };
        if names.unwrap_or(false) {
            out.push(format!("{} {:?}", row.kind, row.name));
        }
    }
    Ok(out)
}

/// Warns about references to objects that do not exist: logins needing them are refused.
async fn warn_dangling<T: Object>(backend: &Backend, object: &T) -> Result<()> {
    let rows = backend.store.catalog().await?;
    for kind in [
        CatalogKind::Product,
        CatalogKind::BillingPolicy,
        CatalogKind::ControlPolicy,
    ] {
        for name in object.refers_to(kind) {
            if !rows.iter().any(|r| r.kind == kind && r.name == name) {
                eprintln!(
                    "warning: no {kind} {name:?} exists yet; logins that need it are refused"
                );
            }
        }
    }
    Ok(())
}

async fn object_command<T: Object>(
    settings: &Settings,
    cmd: ObjectCommand<T::Fields>,
) -> Result<()> {
    let backend = Backend::open(&settings.store_options()).await?;
    let kind = T::KIND;
    match cmd {
        ObjectCommand::Add { name, fields } => {
            check_object_name(&name).map_err(anyhow::Error::msg)?;
            let object = T::create(&fields)?;
            match backend
                .store
                .put_catalog(&CatalogRow::new(kind, &name, &object), Put::Create)
                .await
            {
                Err(StoreError::CatalogExists(..)) => {
                    bail!("{kind} {name:?} already exists (use set to change it)")
                }
                other => other?,
            };
            println!("added {kind} {name}");
            warn_dangling(&backend, &object).await?;
        }
        ObjectCommand::Set { name, fields } => {
            let Some(mut object) = find::<T>(&backend, &name).await? else {
                bail!("no {kind} {name:?}");
            };
            object.apply(&fields);
            backend
                .store
                .put_catalog(&CatalogRow::new(kind, &name, &object), Put::Replace)
                .await?;
            println!("changed {kind} {name}");
            warn_dangling(&backend, &object).await?;
        }
        ObjectCommand::List { json } => {
            print_rows(&rows_of::<T>(&backend, &[kind]).await?, json)?;
        }
        ObjectCommand::Del { name, force } => {
            let users = referring_users(&backend, kind, &name).await?;
            let mut refs = referrers(&backend, kind, &name).await?;
            refs.extend(users);
            if !refs.is_empty() && !force {
                bail!(
                    "{kind} {name:?} is used by {}; change those first or use --force",
                    refs.join(", ")
                );
            }
            if !backend.store.delete_catalog(kind, &name).await? {
                bail!("no {kind} {name:?}");
            }
            println!("deleted {kind} {name}");
        }
    }
    Ok(())
}

/// Users holding product `name`, as "user NAME" strings (only products are held).
async fn referring_users(backend: &Backend, kind: CatalogKind, name: &str) -> Result<Vec<String>> {
    let mut users = Vec::new();
    if kind == CatalogKind::Product {
        backend
            .store
            .for_each_user(&mut |u| {
                if u.holdings.iter().any(|h| h.product == name) {
                    users.push(format!("user {:?}", u.name));
                }
            })
            .await?;
    }
    Ok(users)
}

fn print_rows<T: Serialize>(rows: &[(String, T)], json: bool) -> Result<()> {
    if json {
        let map: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|(n, v)| Ok((n.clone(), serde_json::to_value(v)?)))
            .collect::<Result<_>>()?;
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else {
        for (name, value) in rows {
            println!("{name}\t{}", serde_json::to_string(value)?);
        }
    }
    Ok(())
}

/// `turnstile product`.
pub async fn product(settings: &Settings, cmd: ObjectCommand<ProductArgs>) -> Result<()> {
    object_command::<Product>(settings, cmd).await
}

/// `turnstile billing-policy`.
pub async fn billing_policy(settings: &Settings, cmd: ObjectCommand<BillingArgs>) -> Result<()> {
    object_command::<BillingPolicy>(settings, cmd).await
}

/// `turnstile control-policy`.
pub async fn control_policy(settings: &Settings, cmd: ObjectCommand<ControlArgs>) -> Result<()> {
    object_command::<ControlPolicy>(settings, cmd).await
}

/// `turnstile package-plan`.
pub async fn package_plan(settings: &Settings, cmd: ObjectCommand<PackagePlanArgs>) -> Result<()> {
    object_command::<PackagePlan>(settings, cmd).await
}

/// `turnstile group`.
pub async fn group(settings: &Settings, cmd: ObjectCommand<GroupArgs>) -> Result<()> {
    object_command::<Group>(settings, cmd).await
}

/// `turnstile blacklist`.
pub async fn blacklist(settings: &Settings, cmd: BlacklistCommand) -> Result<()> {
    let backend = Backend::open(&settings.store_options()).await?;
    match cmd {
        BlacklistCommand::Add { target, note } => {
            let (kind, name) = target.key()?;
            let row = CatalogRow::new(kind, &name, &BlacklistEntry { note });
            backend.store.put_catalog(&row, Put::Upsert).await?;
            println!("blacklisted {name}");
        }
        BlacklistCommand::Del { target } => {
            let (kind, name) = target.key()?;
            if !backend.store.delete_catalog(kind, &name).await? {
                bail!("{name} is not blacklisted");
            }
            println!("removed {name} from the blacklist");
        }
        BlacklistCommand::List { json } => {
            let kinds = [CatalogKind::MacBlacklist, CatalogKind::IpBlacklist];
            print_rows(&rows_of::<BlacklistEntry>(&backend, &kinds).await?, json)?;
        }
    }
    Ok(())
}

/// `turnstile ip-table`.
pub async fn ip_table(settings: &Settings, cmd: IpTableCommand) -> Result<()> {
    let backend = Backend::open(&settings.store_options()).await?;
    let range = |s: &str| {
        parse_address_range(s)
            .map(|r| r.to_string())
            .map_err(anyhow::Error::msg)
    };
    match cmd {
        IpTableCommand::Add { range: r, no_auth } => {
            let name = range(&r)?;
            let row = CatalogRow::new(CatalogKind::IpRange, &name, &IpRange { no_auth });
            backend.store.put_catalog(&row, Put::Upsert).await?;
            println!(
                "added {name}{}",
                if no_auth { " (no authentication)" } else { "" }
            );
        }
        IpTableCommand::Del { range: r } => {
            let name = range(&r)?;
            if !backend
                .store
                .delete_catalog(CatalogKind::IpRange, &name)
                .await?
            {
                bail!("{name} is not in the IP table");
            }
            println!("removed {name}");
        }
        IpTableCommand::List { json } => {
            let kinds = [CatalogKind::IpRange];
            print_rows(&rows_of::<IpRange>(&backend, &kinds).await?, json)?;
        }
    }
    Ok(())
}

/// `turnstile system`.
pub async fn system(settings: &Settings, cmd: SystemCommand) -> Result<()> {
    let backend = Backend::open(&settings.store_options()).await?;
    let current = rows_of::<SystemSwitches>(&backend, &[CatalogKind::System])
        .await?
        .into_iter()
        .next()
        .map_or_else(SystemSwitches::default, |(_, s)| s);
    match cmd {
        SystemCommand::Set {
            auth_enabled,
            licensed_online,
        } => {
            let mut s = current;
            if let Some(v) = auth_enabled {
                s.auth_enabled = v;
            }
            if let Some(v) = licensed_online {
                s.licensed_online = v;
            }
            let row = CatalogRow::new(CatalogKind::System, SYSTEM_OBJECT, &s);
            backend.store.put_catalog(&row, Put::Upsert).await?;
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
            if json {
                println!("{}", serde_json::to_string_pretty(&current)?);
            } else {
                println!("auth_enabled:    {}", current.auth_enabled);
                println!("licensed_online: {}", current.licensed_online);
            }
        }
    }
    Ok(())
}
