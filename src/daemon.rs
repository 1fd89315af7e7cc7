//! `turnstile serve`: opens the store, loads the directory, binds the listeners and runs
//! until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::watch;

use crate::admin::AdminState;
use crate::auth::Service;
use crate::billing::meter::Meter;
use crate::billing::settle::Settler;
use crate::clock::Zone;
use crate::codes::ECode;
use crate::config::Settings;
use crate::directory::{Directory, DirectoryError};
use crate::duty::Duty;
use crate::radius::acct_server::{self, AcctContext};
use crate::radius::backlog::AuthBacklog;
use crate::radius::reply_cache::ReplyCache;
use crate::radius::server::{AuthContext, AuthServer};
use crate::reload::Reloader;
use crate::session::dynauth::DynAuthClient;
use crate::session::journal::{Backing, Journal};
use crate::session::kick::Kicker;
use crate::session::online::OnlineTable;
use crate::store::billing::SettleScope;
use crate::store::{Backend, StoreError};
use crate::telemetry;
use crate::telemetry::LogFilter;

/// Why the daemon cannot start.
#[derive(Debug, Error)]
pub enum DaemonError {
    /// The configuration names no usable store.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store cannot be opened.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The directory cannot be loaded.
    #[error("loading users and NAS devices: {0}")]
    Directory(#[from] DirectoryError),
    /// A socket cannot be bound.
    #[error("binding {what} on {addr}: {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// The API's certificate or key cannot be used.
    #[error("operator API TLS: {0}")]
    Tls(#[from] crate::admin::tls::TlsError),
    /// The metrics recorder cannot be installed.
    #[error("metrics: {0}")]
    Metrics(String),
    /// The signal handlers cannot be installed.
    #[error("signal handlers: {0}")]
    Signals(std::io::Error),
}

/// The first time the daemon runs on a store: the `[[bootstrap.users]]` and the starter
/// catalog (group `default` → product `standard` → `free` and `unlimited`), so that a
/// user created with a password alone can log in. Never again afterwards, whatever the
/// operator changed or deleted since.
pub async fn seed(backend: &Backend, settings: &Settings) -> Result<(), DaemonError> {
    if backend.store.claim_once("bootstrap").await? {
        for u in &settings.bootstrap.users {
            let record = backend.new_user(&u.name, u.password.0.as_bytes());
            match backend.store.add_user(&record).await {
                Ok(()) | Err(StoreError::UserExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    if backend.store.claim_once("starter-catalog").await? {
        for row in crate::catalog::starter_objects() {
            match backend
                .store
                .put_catalog(&row, crate::store::Put::Create)
                .await
            {
                Ok(_) | Err(StoreError::CatalogExists(..)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Makes the secret of `DATA_DIR/api.token` the admin token `api.token` the first time
/// the store meets it, so the CLI on this machine can call the API. Revoked with
/// `turnstile token del api.token`, it stays revoked.
async fn adopt_file_token(backend: &Backend, secret: &str) -> Result<(), DaemonError> {
    use crate::ops::tokens::{self, Role};
    if backend.store.claim_once("api-token-file").await? {
        match tokens::add_with_secret(backend, "api.token", Role::Admin, None, secret).await {
            Ok(_) => {}
            Err(e) if e.failure == crate::ops::Failure::Conflict => {}
            Err(e) => tracing::error!(error = %e, "the api.token file's token is not stored"),
        }
    }
    Ok(())
}

/// Runs the daemon on `settings`, read from `config` (which `SIGHUP` reloads, changing the
/// log through `log_filter`). Prints `turnstile ready auth=ADDR acct=ADDR api=ADDR
/// portal=ADDR metrics=ADDR` on stdout once every listener is bound (tests and scripts
/// wait for that line).
pub async fn serve(
    settings: Settings,
    config: PathBuf,
    log_filter: Option<LogFilter>,
) -> Result<(), DaemonError> {
    let started = Instant::now();
    let signals = Signals::register()?;
    crate::clock::set_offset(settings.general.clock_offset_secs);
    let prometheus =
        telemetry::install_metrics().map_err(|e| DaemonError::Metrics(e.to_string()))?;
    let backend = Backend::open(&crate::store::OpenOptions::for_settings(&settings)?).await?;
    seed(&backend, &settings).await?;
    let directory = Arc::new(Directory::load(backend, settings.radius.clients.clone()).await?);
    tracing::info!(
        users = directory.user_count(),
        nas_clients = directory.clients().len(),
        ms = started.elapsed().as_millis() as u64,
        "directory loaded"
    );

    let auth_addr = SocketAddr::new(settings.radius.listen, settings.radius.auth_port);
    let server = AuthServer::bind(
        auth_addr,
        settings.worker_count(),
        settings.radius.recv_buffer_bytes,
    )
    .map_err(bind_error("RADIUS auth", auth_addr))?;
    let auth_local = server
        .local_addr()
        .map_err(bind_error("RADIUS auth", auth_addr))?;

    let acct_addr = SocketAddr::new(settings.radius.listen, settings.radius.acct_port);
    let acct_bind_error = bind_error("RADIUS accounting", acct_addr);
    let acct_socket = crate::udp_socket::bind(acct_addr, settings.radius.recv_buffer_bytes)
        .map_err(&acct_bind_error)?;
    let acct_local = acct_socket.local_addr().map_err(&acct_bind_error)?;

    let (stop, shutdown) = watch::channel(false);
    let metrics_local = match listen_address("metrics", &settings.telemetry.metrics_listen)? {
        None => None,
        Some(addr) => Some({
            let store = directory.store();
            let sample = move || store.record_gauges();
            telemetry::serve_metrics(prometheus, addr, settings.http, sample, shutdown.clone())
                .await
                .map_err(bind_error("metrics", addr))?
        }),
    };
    let online = Arc::new(OnlineTable::default());
    let meter = Arc::new(Meter::default());
    let (journal, journal_task) = Journal::restore(Backing {
        store: directory.store(),
        online: online.clone(),
        meter: meter.clone(),
        directory: directory.clone(),
    })
    .await?;
    let split_journal = journal.clone();
    let kick_journal = journal.clone();
    tracing::info!(sessions = online.len(), "online table restored");
    let store = directory.store();
    let restored_locks = store.lockouts(crate::clock::now()).await?;
    let (lockouts, mut new_lockouts) = tokio::sync::mpsc::unbounded_channel::<(Box<str>, i64)>();
    // Told once everything that locks accounts has stopped.
    let (writer_stop, mut writer_shutdown) = watch::channel(false);
    let lockout_writer = tokio::spawn(async move {
        let write = |(user, until): (Box<str>, i64)| {
            let store = store.clone();
            async move {
                if let Err(e) = store.set_lockout(&user, until).await {
                    tracing::error!(user = ?user, error = %e, "lockout not stored; it ends at a restart");
                }
            }
        };
        loop {
            tokio::select! {
                next = new_lockouts.recv() => match next {
                    Some(lock) => write(lock).await,
                    None => return,
                },
                _ = writer_shutdown.changed() => break,
            }
        }
        // Everything that locks has stopped: what it locked is queued.
        while let Ok(lock) = new_lockouts.try_recv() {
            write(lock).await;
        }
    });
    let service = Arc::new(Service::new(
        &settings,
        directory.clone(),
        online.clone(),
        meter.clone(),
        lockouts,
    ));
    for (user, until) in restored_locks {
        service.authenticator.throttle.restore_lock(&user, until);
    }
    let ctx = Arc::new(AuthContext::new(&settings, service.clone()));
    let auth_backlog = Arc::new(AuthBacklog::new(server.receive_capacity()));
    let acct = tokio::spawn(acct_server::serve(
        acct_socket,
        Arc::new(AcctContext {
            directory: directory.clone(),
            cache: ReplyCache::for_settings(&settings.radius),
            journal,
            auth_backlog: auth_backlog.clone(),
            yield_per_sec: settings.radius.overload_accounting_per_sec,
        }),
        shutdown.clone(),
    ));
    let dynauth = DynAuthClient::bind(
        settings.radius.listen,
        settings.radius.recv_buffer_bytes,
        settings.dynauth,
    )
    .await
    .map_err(bind_error("DM/CoA client", settings.radius.listen))?;
    let kicker = Arc::new(Kicker {
        online: online.clone(),
        journal: kick_journal,
        directory: directory.clone(),
        dynauth,
        activation: settings.portal.activation.clone(),
    });
    for a in kicker.unreachable_activations() {
        tracing::warn!(
            ac_id = %a.ac_id,
            nas = %a.nas,
            "portal.activation names no single-address NAS client: its logins are refused until one exists"
        );
    }
    let (duty, lease) = crate::duty::hold(
        directory.store(),
        settings.node_name(),
        Duration::from_secs(settings.store.lease_secs),
        shutdown.clone(),
    )
    .await;
    let plan_changes = directory.watch().map(|changes| {
        tokio::spawn(crate::session::plan_change::follow(
            kicker.clone(),
            meter.clone(),
            duty.clone(),
            changes,
            shutdown.clone(),
        ))
    });
    let sweeper = tokio::spawn(crate::session::sweeper::run(
        kicker.clone(),
        meter.clone(),
        settings.sessions,
        duty.clone(),
        shutdown.clone(),
    ));
    let (settled_tx, settled_rx) = tokio::sync::mpsc::unbounded_channel();
    let settler = Arc::new(Settler {
        store: directory.store(),
        meter: meter.clone(),
        zone: settings.billing.time_zone,
        settled: Some(settled_tx),
    });
    let splitter = tokio::spawn(split_settled(
        settled_rx,
        online.clone(),
        split_journal,
        directory.clone(),
    ));
    // Settings::load checked settle_at already.
    let settle_minute = settings.billing.settle_minute().ok().flatten();
    let timer = settle_minute.map(|minute| {
        tokio::spawn(settle_daily(
            settler.clone(),
            minute,
            settings.billing.time_zone,
            duty,
            shutdown.clone(),
        ))
    });
    let api_local = match listen_address("operator API", &settings.api.listen)? {
        None => None,
        Some(addr) => {
            let token = crate::admin::token_file::load_or_create(&settings.general.data_dir)
                .map_err(bind_error(
                    "operator API token",
                    crate::admin::token_file::path(&settings.general.data_dir).display(),
                ))?;
            adopt_file_token(directory.backend(), &token).await?;
            let state = Arc::new(AdminState {
                lang: settings.general.language,
                backend: directory.backend().clone(),
                kicker: kicker.clone(),
                settler: settler.clone(),
                pay_to: settings.billing.pay_to,
                audit: crate::admin::audit::AuditLog::start(directory.store()),
                tokens: Default::default(),
            });
            let tls = match settings.api.tls() {
                None => None,
                Some((cert, key)) => Some(crate::admin::tls::acceptor(cert, key)?),
            };
            let bound = crate::admin::serve(addr, tls, state, settings.http, shutdown.clone())
                .await
                .map_err(bind_error("operator API", addr))?;
            let file = crate::admin::token_file::address_path(&settings.general.data_dir);
            if let Err(e) = std::fs::write(&file, bound.to_string()) {
                tracing::warn!(file = %file.display(), error = %e, "API address not written; the CLI will use the configured one");
            }
            Some(bound)
        }
    };
    let portal_local = match listen_address("portal", &settings.portal.listen)? {
        None => None,
        Some(addr) => {
            let state = Arc::new(crate::portal::server::PortalState {
                auth: service.clone(),
                kicker: kicker.clone(),
                challenges: crate::portal::challenge::Challenges::new(Duration::from_secs(
                    settings.portal.challenge_secs,
                )),
                ac_ids: settings.portal.ac_ids.clone(),
                rate: crate::portal::rate::LoginRate::new(settings.portal.logins_per_minute),
                logins: Default::default(),
            });
            Some(
                crate::portal::server::serve(addr, state, settings.http, shutdown.clone())
                    .await
                    .map_err(bind_error("portal", addr))?,
            )
        }
    };
    drop(kicker);
    let follower = tokio::spawn(directory.clone().follow(
        Duration::from_millis(settings.store.sync_interval_ms),
        shutdown.clone(),
    ));
    let reloader = Reloader::new(
        config,
        settings.clone(),
        directory.clone(),
        service.clone(),
        log_filter,
    );
    let ctx_keep = ctx.clone();
    let workers = server
        .start(ctx, auth_backlog)
        .map_err(bind_error("RADIUS auth workers", auth_addr))?;

    let shown = |a: Option<SocketAddr>| a.map_or_else(|| "off".to_string(), |a| a.to_string());
    let (metrics_text, api_text) = (shown(metrics_local), shown(api_local));
    let portal_text = shown(portal_local);
    tracing::info!(auth = %auth_local, acct = %acct_local, api = %api_text, portal = %portal_text, metrics = %metrics_text, "turnstile ready");
    println!(
        "turnstile ready auth={auth_local} acct={acct_local} api={api_text} portal={portal_text} metrics={metrics_text}"
    );

    signals.wait(&reloader).await;
    drop(reloader);
    tracing::info!("shutting down");
    let _ = stop.send(true);
    workers.stop().await;
    let _ = acct.await;
    let _ = sweeper.await;
    if let Some(task) = plan_changes {
        let _ = task.await;
    }
    if let Some(timer) = timer {
        let _ = timer.await;
    }
    // The settler's channel closes with the last settler (the API's went with it).
    drop(settler);
    let _ = tokio::time::timeout(Duration::from_secs(5), splitter).await;
    // With the accounting server, the sweeper and the API gone, no journal handle is left: the
    // journal finishes its batch and ends.
    let _ = tokio::time::timeout(Duration::from_secs(5), journal_task).await;
    let _ = follower.await;
    let _ = lease.await;
    // The writer stores the lockouts still queued; a store slow under load gets time.
    drop(ctx_keep);
    let _ = writer_stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), lockout_writer).await;
    Ok(())
}

/// Settles every due instance at start (cycles missed while the daemon was down) and
/// then daily at `minute` local time, until `shutdown`.
async fn settle_daily(
    settler: Arc<Settler>,
    minute: u32,
    zone: Zone,
    mut duty: Duty,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut next = crate::clock::now();
    loop {
        let wait = (next - crate::clock::now()).max(0) as u64;
        let due = tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(wait)) => true,
            // Whatever the node that had the duty left unsettled is settled now.
            _ = duty.taken_over() => false,
            _ = shutdown.changed() => return,
        };
        if duty.is_mine() {
            let scope = SettleScope::default();
            if let Err(e) = settler.run(&scope, crate::clock::now(), false).await {
                tracing::error!(code = %e.code(), error = %e, "settlement run failed; the next run retries");
            }
        }
        if !due {
            continue;
        }
        match zone.next_daily(crate::clock::now(), minute) {
            Ok(t) => next = t,
            Err(e) => {
                tracing::error!(error = %e, "no next settlement time; the timer stops");
                return;
            }
        }
    }
}

/// Splits every online session of a settled instance: its usage so far belongs to the
/// settled cycle (virtual offline at settlement, E4011); the session goes on.
async fn split_settled(
    mut settled: tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
    online: Arc<OnlineTable>,
    journal: Journal,
    directory: Arc<Directory>,
) {
    while let Some((user, product)) = settled.recv().await {
        for (key, session) in online.snapshot(Some(&user)) {
            let charged_to = session
                .record
                .product
                .clone()
                .or_else(|| directory.product_of(&user));
            if charged_to.as_deref() != Some(product.as_str()) {
                continue;
            }
            let cause = ECode::SettlementVirtualOffline;
            match journal
                .split(&key, cause, None, None, crate::clock::now())
                .await
            {
                Ok(()) => {
                    tracing::info!(user = %user, nas = %key.nas, session = ?key.id, cause = %cause, "session split at settlement")
                }
                Err(e) => tracing::warn!(user = %user, error = %e, "settlement split not recorded"),
            }
        }
    }
}

/// A listen address from the config; None when it is "" (off).
fn listen_address(what: &'static str, text: &str) -> Result<Option<SocketAddr>, DaemonError> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| bind_error(what, text)(std::io::ErrorKind::InvalidInput.into()))
}

/// The error of binding (or otherwise making ready) `what` on `addr`.
fn bind_error(
    what: &'static str,
    addr: impl std::fmt::Display,
) -> impl Fn(std::io::Error) -> DaemonError {
    let addr = addr.to_string();
    move |source| DaemonError::Bind {
        what,
        addr: addr.clone(),
        source,
    }
}

/// The signals the daemon acts on, registered before it says it is ready: until then a
/// SIGHUP would end the process.
struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> Result<Signals, DaemonError> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).map_err(DaemonError::Signals)?,
            hup: signal(SignalKind::hangup()).map_err(DaemonError::Signals)?,
        })
    }

    /// Waits for SIGINT or SIGTERM, reloading the configuration on each SIGHUP meanwhile.
    async fn wait(mut self, reloader: &Reloader) {
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return,
                _ = self.term.recv() => return,
                _ = self.hup.recv() => {
                    // Logged and counted inside; a refused file changes nothing.
                    let _ = reloader.reload().await;
                }
            }
        }
    }
}
