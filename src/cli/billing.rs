//! `turnstile settle|pay|package|ledger|settlements|settlement-log`: billing, through the
//! running daemon's operator API (settlement must keep the daemon's usage meter in step).

use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use super::api::{call, print, query, text};
use super::args::ListArgs;
use turnstile::config::Settings;

/// `turnstile package`.
#[derive(Subcommand)]
pub enum PackageCommand {
    /// Buy a package plan onto a user's product instance (E5040), paid from the
    /// instance's balance, then the wallet.
    Buy {
        /// User name.
        user: String,
        /// Package plan (`turnstile package-plan add`).
        package: String,
        /// Product instance; default: the user's first.
        #[arg(long)]
        product: Option<String>,
    },
    /// Reserve a package plan to be bought automatically at each settlement (E7016 /
    /// E7017), or cancel the reservation with `--cancel`.
    Reserve {
        /// User name.
        user: String,
        /// Package plan.
        #[arg(required_unless_present = "cancel")]
        package: Option<String>,
        /// Cancel the reservation.
        #[arg(long, conflicts_with = "package")]
        cancel: bool,
        /// Product instance; default: the user's first.
        #[arg(long)]
        product: Option<String>,
    },
    /// A user's wallet, product instances (balance, cycle, usage) and packages.
    List {
        /// User name.
        user: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take a package back (refunded to its instance when unexpired and unused).
    Del {
        /// User name.
        user: String,
        /// Package id, as `package list` shows it.
        id: i64,
    },
}

/// `turnstile settle`.
pub fn settle(
    settings: &Settings,
    user: Option<String>,
    product: Option<String>,
    dry_run: bool,
    json_out: bool,
) -> Result<()> {
    let data = call(
        settings,
        "POST",
        "/api/v1/settle",
        Some(json!({"user": user, "product": product, "dry_run": dry_run})),
    )?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&data)?);
        return Ok(());
    }
    println!(
        "{}settled {} instance(s), charged {} fen; {} cycle end(s) computed, {} failed, {} expired package(s) deleted, {} ms",
        if data["dry_run"] == true { "dry run: " } else { "" },
        text(&data["settled"]),
        text(&data["charged_fen"]),
        text(&data["cycle_ends"]),
        text(&data["failed"]),
        text(&data["expired_packages"]),
        text(&data["millis"])
    );
    for (code, n) in data["codes"].as_object().into_iter().flatten() {
        println!("  {code}\t{n}");
    }
    Ok(())
}

/// `turnstile pay`.
pub fn pay(
    settings: &Settings,
    user: String,
    amount: i64,
    to: Option<String>,
    note: Option<String>,
    reference: Option<String>,
) -> Result<()> {
    let data = call(
        settings,
        "POST",
        "/api/v1/pay",
        Some(
            json!({"user": user, "amount_fen": amount, "to": to, "note": note, "reference": reference}),
        ),
    )?;
    println!(
        "{}: {user} {amount} fen; wallet {} fen",
        text(&data["msg"]),
        text(&data["wallet_fen"])
    );
    for b in data["balances"].as_array().into_iter().flatten() {
        println!("  product {}: {} fen", text(&b[0]), text(&b[1]));
    }
    Ok(())
}

/// `turnstile package …`.
pub fn package(settings: &Settings, cmd: PackageCommand) -> Result<()> {
    let (path, body) = match cmd {
        PackageCommand::List { user, json } => {
            let data = call(
                settings,
                "GET",
                &format!("/api/v1/packages{}", query(&Some(user), None)),
                None,
            )?;
            return print_packages(&data, json);
        }
        PackageCommand::Buy {
            user,
            package,
            product,
        } => (
            "/api/v1/packages/buy",
            json!({"user": user, "package": package, "product": product}),
        ),
        PackageCommand::Reserve {
            user,
            package,
            cancel,
            product,
        } => (
            "/api/v1/packages/reserve",
            json!({"user": user, "package": if cancel { None } else { package }, "product": product}),
        ),
        PackageCommand::Del { user, id } => {
            ("/api/v1/packages/remove", json!({"user": user, "id": id}))
        }
    };
    let data = call(settings, "POST", path, Some(body))?;
    println!("{}", text(&data["msg"]));
    for p in data["packages"].as_array().into_iter().flatten() {
        println!(
            "  package {} on {} for {} fen, until {}",
            text(&p["package"]),
            text(&p["product"]),
            text(&p["price_fen"]),
            text(&p["expires_at"])
        );
    }
    Ok(())
}

fn print_packages(data: &Value, json_out: bool) -> Result<()> {
    if json_out {
        println!("{}", serde_json::to_string_pretty(data)?);
        return Ok(());
    }
    println!("wallet\t{} fen", text(&data["wallet_fen"]));
    for i in data["instances"].as_array().into_iter().flatten() {
        println!(
            "instance\t{}\tbalance {} fen\tcycle {}..{}\treserved {}\tused {} s, {} B in, {} B out, {} logins",
            text(&i["product"]),
            text(&i["balance_fen"]),
            text(&i["cycle_start"]),
            text(&i["cycle_end"]),
            text(&i["reserved_package"]),
            text(&i["usage"]["secs"]),
            text(&i["usage"]["bytes_in"]),
            text(&i["usage"]["bytes_out"]),
            text(&i["usage"]["logins"])
        );
    }
    for p in data["packages"].as_array().into_iter().flatten() {
        println!(
            "package\t{}\t{}\ton {}\t{} fen\t+{} s +{} B\tuntil {}",
            text(&p["id"]),
            text(&p["package"]),
            text(&p["product"]),
            text(&p["price_fen"]),
            text(&p["extra_secs"]),
            text(&p["extra_bytes"]),
            text(&p["expires_at"])
        );
    }
    Ok(())
}

/// Which billing list.
#[derive(Clone, Copy)]
pub enum Listing {
    /// `turnstile ledger`.
    Ledger,
    /// `turnstile settlements`.
    Settlements,
    /// `turnstile settlement-log`.
    Log,
}

/// `turnstile ledger|settlements|settlement-log`.
pub fn list(settings: &Settings, listing: Listing, args: ListArgs) -> Result<()> {
    let path = match listing {
        Listing::Ledger => "ledger",
        Listing::Settlements => "settlements",
        Listing::Log => "settlement-log",
    };
    // Page by page (the API gives at most MAX_PAGE rows each), each from where the
    // one before ended, until `--limit` rows or the oldest.
    let mut rows: Vec<Value> = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let left = args.limit.saturating_sub(rows.len() as u32).max(1);
        let page_limit = left.min(turnstile::ops::users::MAX_PAGE);
        let mut url = format!("/api/v1/{path}{}", query(&args.user, Some(page_limit)));
        if let Some(b) = before {
            url.push_str(&format!("&before={b}"));
        }
        let data = call(settings, "GET", &url, None)?;
        let Some(page) = data["rows"].as_array() else {
            bail!("unexpected reply from the daemon");
        };
        rows.extend(page.iter().cloned());
        before = data["next_before"].as_i64();
        if before.is_none() || rows.len() >= args.limit as usize {
            break;
        }
    }
    print(&Value::Array(rows), args.json, |r| match listing {
        Listing::Ledger => format!(
            "{}\t{}\t{}\t{}\t{:>+}\tbalance {}\t{}\t{}",
            text(&r["id"]),
            text(&r["at"]),
            text(&r["user"]),
            r["product"].as_str().unwrap_or("wallet"),
            r["amount_fen"].as_i64().unwrap_or_default(),
            text(&r["balance_fen"]),
            text(&r["kind"]),
            text(&r["reference"])
        ),
        Listing::Settlements => format!(
            "{}\t{}\tcycle {}..{}\tE{}\tfee {} + usage {}\tcharged {}\tbalance {}",
            text(&r["user"]),
            text(&r["product"]),
            text(&r["cycle_start"]),
            text(&r["cycle_end"]),
            text(&r["code"]),
            text(&r["fee_fen"]),
            text(&r["usage_fen"]),
            text(&r["charged_fen"]),
            text(&r["balance_fen"])
        ),
        Listing::Log => format!(
            "{}\t{}\t{}\t{}\t{}\t{} fen\t{}",
            text(&r["id"]),
            text(&r["at"]),
            text(&r["user"]),
            text(&r["product"]),
            text(&r["text"]),
            text(&r["amount_fen"]),
            text(&r["detail"])
        ),
    })
}
