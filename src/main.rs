//! The `turnstile` command: the daemon and the operator's tools.

mod cli;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

use cli::args::ListArgs;
use cli::billing::{Listing, PackageCommand};
use cli::catalog::{
    BillingArgs, BlacklistCommand, ControlArgs, GroupArgs, IpTableCommand, ObjectCommand,
    PackagePlanArgs, ProductArgs, SystemCommand,
};
use cli::nas::NasCommand;
use cli::token::TokenCommand;
use cli::user::UserCommand;
use turnstile::codes::{ECode, Lang};
use turnstile::config::Settings;

// glibc's allocator spent about a tenth of the daemon's time under accounting load
// (malloc, free and their consolidation); mimalloc keeps per-thread free lists.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Manage products (产品): a billing and a control policy users buy together.
    #[command(subcommand)]
    Product(ObjectCommand<ProductArgs>),
    /// Manage billing policies (计费策略): how usage is charged, quotas.
    #[command(subcommand)]
    BillingPolicy(ObjectCommand<BillingArgs>),
    /// Manage control policies (控制策略): sessions, bandwidth, time windows, timeouts.
    #[command(subcommand)]
    ControlPolicy(ObjectCommand<ControlArgs>),
    /// Manage package plans (套餐): extra time and traffic sold onto product instances.
    #[command(subcommand)]
    PackagePlan(ObjectCommand<PackagePlanArgs>),
    /// Manage user groups: default product and control overrides.
    #[command(subcommand)]
    Group(ObjectCommand<GroupArgs>),
    /// Manage the MAC and IP blacklists.
    #[command(subcommand)]
    Blacklist(BlacklistCommand),
    /// Manage the IP tables: where logins are allowed, what needs no authentication.
    #[command(subcommand)]
    IpTable(IpTableCommand),
    /// System-wide switches: authentication on/off, licensed online limit.
    #[command(subcommand)]
    System(SystemCommand),
    /// Sessions online now (asks the running daemon).
    Online {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ended sessions with their usage and cause, newest first (asks the running daemon).
    Sessions(ListArgs),
    /// Take sessions down: every session of a user, or one (NAS/SESSION-ID).
    Kick {
        /// Every session of this user.
        #[arg(long, required_unless_present = "session", conflicts_with = "session")]
        user: Option<String>,
        /// One session, as `turnstile online` shows it (NAS/SESSION-ID).
        #[arg(long)]
        session: Option<String>,
        /// dm (Disconnect-Request), local (drop here) or virtual.
        #[arg(long, value_enum, default_value = "dm")]
        mode: cli::sessions::Mode,
        /// Who asks: admin, system or self-service (chooses the E41xx code).
        #[arg(long, value_enum, default_value = "admin")]
        source: cli::sessions::Source,
    },
    /// Settle every product instance whose cycle has ended (asks the running daemon).
    Settle {
        /// Only this user's instances.
        #[arg(long)]
        user: Option<String>,
        /// Only instances of this product.
        #[arg(long)]
        product: Option<String>,
        /// Show what would be charged; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take a payment (E6001; E6002 with the reason when refused).
    Pay {
        /// User name.
        user: String,
        /// Amount in fen (above 0).
        #[arg(long, allow_hyphen_values = true)]
        amount: i64,
        /// `wallet` or a product the user holds; default: `[billing] pay_to`.
        #[arg(long)]
        to: Option<String>,
        /// A note for the ledger.
        #[arg(long)]
        note: Option<String>,
        /// Idempotency key (e.g. the payment desk's receipt number): a payment with a
        /// recorded key is not taken twice.
        #[arg(long)]
        reference: Option<String>,
    },
    /// Packages (套餐) of users: buy, reserve, list, take back.
    #[command(subcommand)]
    Package(PackageCommand),
    /// Ledger entries (every movement of money), newest first.
    Ledger(ListArgs),
    /// Settled cycles (结算清单), newest first.
    Settlements(ListArgs),
    /// The settlement log (E7xxx, E6001/E6002), newest first.
    SettlementLog(ListArgs),
    /// API tokens: create (with a role), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Mutating API calls (who, what, when, result code), newest first.
    Audit {
        /// Only this token's calls.
        #[arg(long)]
        actor: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a session's bandwidth by CoA (E4006); it stays online.
    Coa {
        /// NAS/SESSION-ID.
        #[arg(long)]
        session: String,
        /// Upload, bit/s (2M, 512k …).
        #[arg(long, value_parser = cli::args::bandwidth)]
        up: u64,
        /// Download, bit/s.
        #[arg(long, value_parser = cli::args::bandwidth)]
        down: u64,
    },
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    match s {
        "zh" => Ok(Lang::Zh),
        "en" => Ok(Lang::En),
        _ => Err(format!("unknown language {s:?} (zh or en)")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", causes(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes. Most of the crate's errors already write their source into
/// their own message, so a cause is added only where the text before lacks it.
fn causes(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run(cli: Cli) -> Result<()> {
    if let Command::Codes { lang, json } = cli.command {
        return print_codes(lang, json);
    }
    let settings = Settings::load(&cli.config)?;
    turnstile::clock::set_offset(settings.general.clock_offset_secs);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let s = &settings;
    match cli.command {
        Command::Codes { .. } => unreachable!("handled above"),
        Command::CheckConfig => {
            // The store's own rules for `[store] url`.
            turnstile::store::OpenOptions::for_settings(&settings)?;
            println!(
                "{}: ok ({} NAS client(s) in the file, data in {})",
                cli.config.display(),
                settings.radius.clients.len(),
                settings.general.data_dir.display()
            );
            Ok(())
        }
        Command::Serve => {
            let (_guard, log_filter) = turnstile::telemetry::init_logging(&settings.telemetry);
            runtime.block_on(turnstile::daemon::serve(
                settings,
                cli.config.clone(),
                Some(log_filter),
            ))?;
            Ok(())
        }
        Command::User(cmd) => runtime.block_on(cli::user::run(s, cmd)),
        Command::Nas(cmd) => runtime.block_on(cli::nas::run(s, cmd)),
        Command::Product(cmd) => runtime.block_on(cli::catalog::product(s, cmd)),
        Command::BillingPolicy(cmd) => runtime.block_on(cli::catalog::billing_policy(s, cmd)),
        Command::ControlPolicy(cmd) => runtime.block_on(cli::catalog::control_policy(s, cmd)),
        Command::Group(cmd) => runtime.block_on(cli::catalog::group(s, cmd)),
        Command::PackagePlan(cmd) => runtime.block_on(cli::catalog::package_plan(s, cmd)),
        Command::Settle {
            user,
            product,
            dry_run,
            json,
        } => cli::billing::settle(s, user, product, dry_run, json),
        Command::Pay {
            user,
            amount,
            to,
            note,
            reference,
        } => cli::billing::pay(s, user, amount, to, note, reference),
        Command::Package(cmd) => cli::billing::package(s, cmd),
        Command::Ledger(args) => cli::billing::list(s, Listing::Ledger, args),
        Command::Settlements(args) => cli::billing::list(s, Listing::Settlements, args),
        Command::SettlementLog(args) => cli::billing::list(s, Listing::Log, args),
        Command::Blacklist(cmd) => runtime.block_on(cli::catalog::blacklist(s, cmd)),
        Command::IpTable(cmd) => runtime.block_on(cli::catalog::ip_table(s, cmd)),
        Command::System(cmd) => runtime.block_on(cli::catalog::system(s, cmd)),
        Command::Online { user, json } => cli::sessions::online(s, user, json),
        Command::Sessions(args) => cli::sessions::sessions(s, args.user, args.limit, args.json),
        Command::Kick {
            user,
            session,
            mode,
            source,
        } => cli::sessions::kick(s, user, session, mode, source),
        Command::Token(cmd) => runtime.block_on(cli::token::run(s, cmd)),
        Command::Audit { actor, limit, json } => {
            runtime.block_on(cli::token::audit(s, actor, limit, json))
        }
        Command::Coa { session, up, down } => cli::sessions::coa(s, session, up, down),
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
        /// False for codes the catalog adds to the Srun tables.
        from_seed: bool,
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
                from_seed: c.from_seed(),
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
