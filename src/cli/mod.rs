//! The operator's commands, one module per area. `main.rs` parses and dispatches.

pub mod api;
pub mod args;
pub mod billing;
pub mod catalog;
pub mod nas;
pub mod sessions;
pub mod token;
pub mod user;
