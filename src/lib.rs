//! turnstile: an AAA daemon for campus and ISP access networks.
//!
//! # Map
//!
//! | module | what it owns |
//! | --- | --- |
//! | [`codes`] | the E-code catalog: every Srun code with its Chinese and English text |
//! | [`config`] | typed settings from `config/turnstile.toml` and `TURNSTILE__…` variables |
//! | [`proto`] | wire formats, pure and fuzzable: the RADIUS packet view and builder, its MD5/HMAC cryptography, vendor attributes, Class, the DM/CoA codec; the Srun portal codec; JSONP |
//! | [`radius`] | the RADIUS listeners: reply cache, the auth and accounting servers |
//! | [`udp_socket`] | UDP sockets with their receive buffers, and the kernel's counters of them |
//! | [`auth`] | [`auth::Service`], the one login service every front door holds, around the [`auth::authenticator::Authenticator`]: credential checks (PAP, CHAP, MS-CHAP v1 and v2), EAP conversations (`auth::eap`), login history and [`auth::policy::evaluate`]: grant with limits, or refuse with a code |
//! | [`account`] | what a user holds: profile, bindings, product instances |
//! | [`catalog`] | groups, products, billing and control policies, blacklists, IP tables, system switches |
//! | [`session`] | the online table, the accounting journal (group commit, rating), kicks and the DM/CoA client that sends them, the sweeper, policy changes on live sessions |
//! | [`billing`] | rating, the usage meter, where a user stands (quota, money), cycles, settlement, payments, packages |
//! | [`ops`] | operator operations (users, catalog, NAS devices, tokens) with their E5xxx results, under the CLI and the API |
//! | [`admin`] | the operator API over HTTP: envelope, tokens and roles, audit log, users, catalog, the device registry, sessions, billing, the OpenAPI document, the client the CLI uses |
//! | [`portal`] | the Srun-compatible portal: challenges, endpoints, the login and logout flow free of HTTP (`portal::login`), the login page (HTML/CSS/JS in the binary) |
//! | [`directory`] | the in-memory users, NAS client table and catalog that the packet path reads |
//! | [`clock`] | the daemon's clock (shiftable for drills and tests) and time zones |
//! | [`mac`], [`vendor`], [`address`] | small shared types: MAC addresses as NASes write them, NAS vendor dialects, address ranges |
//! | [`store`] | the [`store::Store`] traits, one per concern (users, NAS, catalog, sessions, change log, billing, access, leases), and their two backends, SQLite (embedded) and PostgreSQL (cluster), sharing one set of queries (`store/sql/`); sealed secrets; CSV import |
//! | [`duty`] | the lease on once-only work (settlement, the sweeper, policy-change pushes) that one node of a cluster holds at a time |
//! | [`http_listener`] | the HTTP listener under the portal, the API and `/metrics`: connection limits, header and request deadlines |
//! | [`daemon`] | wiring for `turnstile serve` |
//! | [`reload`] | `SIGHUP`: the config file read again; a bad one changes nothing |
//! | [`telemetry`] | logs and Prometheus metrics |
//!
//! # How an Access-Request flows
//!
//! ```text
//! NAS ─UDP─▶ radius::server (a worker thread per SO_REUSEPORT socket, datagrams in
//!              batches: radius::batch) ─▶ its RequestHandler, radius::access::AccessHandler:
//!              │ directory's client table ─▶ reply_cache   (unknown source: drop;
//!              ▼                                 retransmission: resend cached reply)
//!            proto::radius::packet::Packet::parse ─▶ AccessRequest view ─▶ access::answer:
//!              Message-Authenticator check ─▶ policy::Request view ─▶ auth::Service:
//!              auth::authenticator ─▶ auth::policy::evaluate(request, user, catalog,
//!              online counts, history, clock) ─▶ Decision::Accept(Grant) | Reject(ECode) ─▶ reply
//!              (Message-Authenticator first; Accept: timeouts, Class, vendor bandwidth;
//!              Reject: Reply-Message "CODE: text") ─▶ cache ─▶ NAS
//! ```
//!
//! # How accounting flows
//!
//! ```text
//! NAS ─UDP─▶ radius::acct_server ─▶ reply_cache ─▶ radius::accounting::parse ─▶
//!            session::journal (one transaction for everything queued — the
//!            sessions read as stored, each one's usage since its last counters added
//!            to its product instance, other nodes notified ─▶ online table and
//!            billing::meter in memory) ─▶ Accounting-Response
//! other nodes' notices ─▶ session::journal reads those sessions again into memory
//! sweeper (billing::standing: quota E3001, money E3004) / admin API ─▶ session::kick ─▶
//!            session::dynauth (proto::radius::dynauth) ─▶ NAS:3799 ─▶ ACK ─▶ journal
//! ```
//!
//! # How settlement flows
//!
//! ```text
//! timer ([billing] settle_at) / POST /api/v1/settle ─▶ billing::settle::Settler ─▶
//!            store::BillingStore::settle_batch (one serialized transaction per 1,000
//!            due instances: read ─▶ billing::settle::plan (pure) ─▶ settlement record
//!            with its unique key, balances, usage reset, next cycle, ledger, log) ─▶
//!            meter ─▶ online sessions split (E4011) through the journal
//! ```
//!
//! # How a portal login flows
//!
//! ```text
//! browser / script ─HTTP─▶ portal::server: get_challenge (portal::challenge) ─▶
//!            srun_portal?action=login: rate limit, challenge taken, info decoded and
//!            chksum checked (proto::srun) ─▶ portal::login (no HTTP in it):
//!            auth::Service (interface "portal") ─▶ [CoA activation on the ac_id's NAS:
//!            session::kick] ─▶ session::journal (a session::event, NAS "portal") ─▶
//!            JSONP reply (proto::jsonp)
//! logout / rad_user_dm ─▶ portal::login::log_out ─▶ session::kick::Kicker::end_portal ─▶
//!            journal
//! ```
//!
//! # How an operator's change flows
//!
//! ```text
//! turnstile user … (CLI) ─────────────────────────────┐
//! HTTP ─▶ admin: token ─▶ role ─▶ audit log ─▶ handler ┴▶ ops (rules, E5xxx) ─▶ store
//!            (one transaction, with its change-log entry) ─▶ directory::Directory::follow
//!            applies it to memory within one sync interval
//! ```
//!
//! # How the daemon starts and stops
//!
//! ```text
//! daemon::serve ─▶ build (fallible: store opened, directory and online table loaded,
//!            every socket bound) ─▶ run: every listener and timer spawned, watching one
//!            CancellationToken ─▶ SIGTERM/SIGINT: token cancelled ─▶ they finish what
//!            they hold (HTTP: the request in progress) ─▶ queues drained in order:
//!            settlement splits ─▶ session journal ─▶ lockouts (one deadline for all)
//! ```
//!
//! # Layers
//!
//! From the top down. A module imports only its own layer's siblings and what lies
//! below; a type two layers need moves down. `tests/layers.rs` reads this table and
//! checks every `crate::` and `super::` path of the library against it.
//!
//! | layer | modules |
//! | --- | --- |
//! | composition root | `daemon` |
//! | front doors | `radius`, `portal`, `admin`, `reload` |
//! | sessions | `session` |
//! | login | `auth` |
//! | money and operator rules | `billing`, `ops` |
//! | memory views and plumbing | `directory`, `duty`, `http_listener`, `telemetry`, `udp_socket` |
//! | persistence | `store` |
//! | data types | `account`, `catalog`, `config` |
//! | wire formats | `proto` |
//! | small shared types | `codes`, `clock`, `mac`, `vendor`, `address` |
//!
//! The binaries (`main`, `cli/`, `bin/`) stand above them all.

#![warn(missing_docs)]
// Unsafe code only at the few sites that allow it, each with its SAFETY note.
#![deny(unsafe_code)]
// A panic on input is a bug: what cannot fail says why where it is allowed.
#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod account;
pub mod address;
pub mod admin;
pub mod auth;
pub mod billing;
pub mod catalog;
pub mod clock;
pub mod codes;
pub mod config;
pub mod daemon;
pub mod directory;
pub mod duty;
pub mod http_listener;
pub mod mac;
pub mod ops;
pub mod portal;
pub mod proto;
pub mod radius;
pub mod reload;
pub mod session;
pub mod store;
pub mod telemetry;
pub mod udp_socket;
pub mod vendor;
