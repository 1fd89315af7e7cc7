//! `turnstile serve`: the composition root. [`serve`] builds the daemon (opens the store,
//! loads the directory, binds every socket: anything that fails is a start-up error)
//! and then runs it until SIGINT or SIGTERM, when one [`CancellationToken`] stops every
//! listener and timer and the daemon drains what they fed, in order.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::AdminState;
use crate::auth::service::store_lockouts;
use crate::auth::Service;
use crate::billing::meter::Meter;
use crate::billing::settle::Settler;
use crate::clock::Zone;
use crate::codes::ECode;
use crate::config::Settings;
use crate::directory::{Directory, DirectoryError};
use crate::duty::Duty;
use crate::radius::access::AccessHandler;
use crate::radius::acct_server::{self, AcctContext};
use crate::radius::backlog::AuthBacklog;
use crate::radius::reply_cache::ReplyCache;
use crate::radius::server::{AuthServer, AuthWorkers};
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

/// How long the drain after the shutdown signal may take in all: listeners finishing
/// their requests, then the queues they fed. Past it the process exits with what is
/// left unstored logged.
const DRAIN_GRACE: Duration = Duration::from_secs(15);

/// Runs the daemon on `settings`, read from `config` (which `SIGHUP` reloads, changing the
/// log through `log_filter`). Prints `turnstile ready auth=ADDR acct=ADDR api=ADDR
/// portal=ADDR metrics=ADDR` on stdout once every listener is bound (tests and scripts
/// wait for that line).
pub async fn serve(
    settings: Settings,
    config: PathBuf,
    log_filter: Option<LogFilter>,
) -> Result<(), DaemonError> {
    let signals = Signals::register()?;
    let daemon = Daemon::build(settings, config, log_filter).await?;
    daemon.run(signals).await;
    Ok(())
}

/// A task that serves from the ready line until the shutdown signal.
type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The daemon built: the store open, the directory and the online table loaded, every
/// socket bound. What runs already is what a listener needs under it (the journal's
/// writer, the lockout writer, the settlement splitter) and the authentication workers.
struct Daemon {
    /// Cancelled once, at SIGINT or SIGTERM; every task watches it.
    shutdown: CancellationToken,
    /// What serves until the signal: listeners, timers, followers.
    tasks: Vec<Task>,
    /// The RADIUS authentication threads.
    auth_workers: AuthWorkers,
    /// Queues that end once everything feeding them has stopped, in the order they drain:
    /// settlement splits (fed by the settlement timer and the API) write to the journal,
    /// and the lockouts come from every login.
    queues: Vec<(&'static str, JoinHandle<()>)>,
    /// Rereads the configuration at SIGHUP.
    reloader: Reloader,
    /// `auth=ADDR acct=ADDR …`, for the ready line.
    bound: String,
}

impl Daemon {
    /// Opens, loads and binds everything `settings` ask for; the first failure is the
    /// daemon's error.
    async fn build(
        settings: Settings,
        config: PathBuf,
        log_filter: Option<LogFilter>,
    ) -> Result<Daemon, DaemonError> {
        let started = Instant::now();
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
        let store = directory.store();
        let shutdown = CancellationToken::new();
        let mut tasks: Vec<Task> = Vec::new();

        let auth_addr = SocketAddr::new(settings.radius.listen, settings.radius.auth_port);
        let auth_server = AuthServer::bind(
            auth_addr,
            settings.worker_count(),
            settings.radius.recv_buffer_bytes,
        )
        .map_err(bind_error("RADIUS auth", auth_addr))?;
        let auth_local = auth_server
            .local_addr()
            .map_err(bind_error("RADIUS auth", auth_addr))?;
        let acct_addr = SocketAddr::new(settings.radius.listen, settings.radius.acct_port);
        let acct_socket = crate::udp_socket::bind(acct_addr, settings.radius.recv_buffer_bytes)
            .map_err(bind_error("RADIUS accounting", acct_addr))?;
        let acct_local = acct_socket
            .local_addr()
            .map_err(bind_error("RADIUS accounting", acct_addr))?;
        let dynauth = DynAuthClient::bind(
            settings.radius.listen,
            settings.radius.recv_buffer_bytes,
            settings.dynauth,
        )
        .await
        .map_err(bind_error("DM/CoA client", settings.radius.listen))?;
        let metrics_listener = bind_tcp("metrics", &settings.telemetry.metrics_listen).await?;
        let api_listener = bind_tcp("operator API", &settings.api.listen).await?;
        let portal_listener = bind_tcp("portal", &settings.portal.listen).await?;
        let bound = format!(
            "auth={auth_local} acct={acct_local} api={} portal={} metrics={}",
            shown(&api_listener),
            shown(&portal_listener),
            shown(&metrics_listener)
        );

        let online = Arc::new(OnlineTable::default());
        let meter = Arc::new(Meter::default());
        let (journal, journal_task) = Journal::restore(Backing {
            store: store.clone(),
            online: online.clone(),
            meter: meter.clone(),
            directory: directory.clone(),
        })
        .await?;
        tracing::info!(sessions = online.len(), "online table restored");
        let restored_locks = store.lockouts(crate::clock::now()).await?;
        let (lockouts, new_lockouts) = tokio::sync::mpsc::unbounded_channel();
        let lockout_writer = tokio::spawn(store_lockouts(store.clone(), new_lockouts));
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
        let kicker = Arc::new(Kicker {
            online: online.clone(),
            journal: journal.clone(),
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
        let (settled_tx, settled_rx) = tokio::sync::mpsc::unbounded_channel();
        let settler = Arc::new(Settler {
            store: store.clone(),
            meter: meter.clone(),
            zone: settings.billing.time_zone,
            settled: Some(settled_tx),
        });
        let splitter = tokio::spawn(split_settled(
            settled_rx,
            online.clone(),
            journal.clone(),
            directory.clone(),
        ));
        let (duty, lease) = crate::duty::hold(
            store.clone(),
            settings.node_name(),
            Duration::from_secs(settings.store.lease_secs),
            shutdown.clone(),
        )
        .await;
        tasks.push(Box::pin(lease));

        let auth_backlog = Arc::new(AuthBacklog::new(auth_server.receive_capacity()));
        tasks.push(Box::pin(acct_server::serve(
            acct_socket,
            Arc::new(AcctContext {
                directory: directory.clone(),
                cache: ReplyCache::for_settings(&settings.radius),
                journal,
                auth_backlog: auth_backlog.clone(),
                yield_per_sec: settings.radius.overload_accounting_per_sec,
            }),
            shutdown.clone(),
        )));
        if let Some(changes) = directory.watch() {
            tasks.push(Box::pin(crate::session::plan_change::follow(
                kicker.clone(),
                meter.clone(),
                duty.clone(),
                changes,
                shutdown.clone(),
            )));
        }
        tasks.push(Box::pin(crate::session::sweeper::run(
            kicker.clone(),
            meter.clone(),
            settings.sessions,
            duty.clone(),
            shutdown.clone(),
        )));
        // Settings::load checked settle_at already.
        if let Some(minute) = settings.billing.settle_minute().ok().flatten() {
            tasks.push(Box::pin(settle_daily(
                settler.clone(),
                minute,
                settings.billing.time_zone,
                duty,
                shutdown.clone(),
            )));
        }
        if let Some(listener) = metrics_listener {
            let store = store.clone();
            let sample = move || store.record_gauges();
            tasks.push(Box::pin(telemetry::serve_metrics(
                prometheus,
                listener,
                settings.http,
                sample,
                shutdown.clone(),
            )));
        }
        if let Some(listener) = api_listener {
            let data_dir = &settings.general.data_dir;
            let token = crate::admin::token_file::load_or_create(data_dir).map_err(bind_error(
                "operator API token",
                crate::admin::token_file::path(data_dir).display(),
            ))?;
            adopt_file_token(directory.backend(), &token).await?;
            let tls = match settings.api.tls() {
                None => None,
                Some((cert, key)) => Some(crate::admin::tls::acceptor(cert, key)?),
            };
            let state = Arc::new(AdminState {
                lang: settings.general.language,
                backend: directory.backend().clone(),
                kicker: kicker.clone(),
                settler,
                pay_to: settings.billing.pay_to,
                audit: crate::admin::audit::AuditLog::start(store.clone()),
                tokens: Default::default(),
            });
            let file = crate::admin::token_file::address_path(data_dir);
            if let Ok(local) = listener.local_addr() {
                if let Err(e) = std::fs::write(&file, local.to_string()) {
                    tracing::warn!(file = %file.display(), error = %e, "API address not written; the CLI will use the configured one");
                }
            }
            tasks.push(Box::pin(crate::admin::serve(
                listener,
                tls,
                state,
                settings.http,
                shutdown.clone(),
            )));
        }
        if let Some(listener) = portal_listener {
            let state = Arc::new(crate::portal::server::PortalState {
                auth: service.clone(),
                kicker,
                challenges: crate::portal::challenge::Challenges::new(Duration::from_secs(
                    settings.portal.challenge_secs,
                )),
                ac_ids: settings.portal.ac_ids.clone(),
                rate: crate::portal::rate::LoginRate::new(settings.portal.logins_per_minute),
                logins: Default::default(),
            });
            tasks.push(Box::pin(crate::portal::server::serve(
                listener,
                state,
                settings.http,
                shutdown.clone(),
            )));
        }
        tasks.push(Box::pin(directory.clone().follow(
            Duration::from_millis(settings.store.sync_interval_ms),
            shutdown.clone(),
        )));
        let auth_workers = auth_server
            .start(
                Arc::new(AccessHandler::new(&settings, service.clone())),
                auth_backlog,
            )
            .map_err(bind_error("RADIUS auth workers", auth_addr))?;
        let reloader = Reloader::new(config, settings, directory, service, log_filter);
        Ok(Daemon {
            shutdown,
            tasks,
            auth_workers,
            queues: vec![
                ("settlement splits", splitter),
                ("journal", journal_task),
                ("lockouts", lockout_writer),
            ],
            reloader,
            bound,
        })
    }

    /// Serves until SIGINT or SIGTERM (reloading at each SIGHUP), then drains: the
    /// listeners and timers stop taking work and finish what they hold, then each queue
    /// they fed is emptied, all within [`DRAIN_GRACE`].
    async fn run(self, signals: Signals) {
        let running = TaskTracker::new();
        for task in self.tasks {
            running.spawn(task);
        }
        running.close();
        tracing::info!(bound = %self.bound, "turnstile ready");
        println!("turnstile ready {}", self.bound);

        signals.wait(&self.reloader).await;
        drop(self.reloader);
        tracing::info!("shutting down");
        let deadline = tokio::time::Instant::now() + DRAIN_GRACE;
        self.shutdown.cancel();
        self.auth_workers.stop().await;
        if tokio::time::timeout_at(deadline, running.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                tasks = running.len(),
                "listeners still busy at the drain deadline"
            );
        }
        // Each queue's senders went with the tasks above (and the queue before it).
        for (queue, task) in self.queues {
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                tracing::error!(queue, "not drained at the deadline; what it held is lost");
            }
        }
    }
}

/// Settles every due instance at start (cycles missed while the daemon was down) and
/// then daily at `minute` local time, until `shutdown`.
async fn settle_daily(
    settler: Arc<Settler>,
    minute: u32,
    zone: Zone,
    mut duty: Duty,
    shutdown: CancellationToken,
) {
    let mut next = crate::clock::now();
    loop {
        let wait = (next - crate::clock::now()).max(0) as u64;
        let due = tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(wait)) => true,
            // Whatever the node that had the duty left unsettled is settled now.
            _ = duty.taken_over() => false,
            _ = shutdown.cancelled() => return,
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

/// Binds the TCP listener `what` on `text` from the config; None when it is "" (off).
async fn bind_tcp(what: &'static str, text: &str) -> Result<Option<TcpListener>, DaemonError> {
    if text.is_empty() {
        return Ok(None);
    }
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| bind_error(what, text)(std::io::ErrorKind::InvalidInput.into()))?;
    TcpListener::bind(addr)
        .await
        .map(Some)
        .map_err(bind_error(what, addr))
}

/// A bound listener's address for the ready line, or `off`.
fn shown(listener: &Option<TcpListener>) -> String {
    listener
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map_or_else(|| "off".to_string(), |a| a.to_string())
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
