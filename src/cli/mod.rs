//! The operator's commands, one module per area. `main.rs` parses and dispatches; the
//! commands print what an operation did, or refused, the same way ([`report`],
//! [`refusal`]).

pub mod api;
pub mod args;
pub mod billing;
pub mod catalog;
pub mod nas;
pub mod sessions;
pub mod token;
pub mod user;

use turnstile::codes::Lang;
use turnstile::ops::{Done, OpsError};

/// Prints an operation's result code and warnings.
pub fn report(lang: Lang, done: &Done, what: &str) {
    match done.code {
        Some(code) => println!("{}: {what}", code.wire(lang)),
        None => println!("{what}"),
    }
    for w in &done.warnings {
        eprintln!("warning: {w}");
    }
}

/// The refusal as the CLI prints it: `E5993: 用户已存在: alice`.
pub fn refusal(lang: Lang) -> impl Fn(OpsError) -> anyhow::Error {
    move |e| anyhow::anyhow!(e.message(lang))
}
