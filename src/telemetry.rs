//! Logs (`tracing`) and Prometheus metrics.
//!
//! Metric names (all prefixed `turnstile_`):
//! - `radius_received_total`: datagrams read from the RADIUS sockets;
//! - `radius_requests_total{type}`: requests handed to a worker, once per request
//!   (retransmissions are not counted here);
//! - `radius_replies_total{type,code}`: replies sent, by packet type and E-code;
//! - `radius_dropped_total{reason}`: datagrams dropped unanswered;
//! - `radius_duplicates_total{outcome}`: retransmissions answered from the reply cache
//!   (`resent`) or ignored while the original was in progress (`in_progress`);
//! - `radius_request_duration_seconds`: from receipt to reply, a histogram;
//! - `radius_queue_depth`, `reply_cache_entries`, `directory_users`: gauges;
//! - `process_resident_bytes`, `sqlite_memory_bytes`: the daemon's resident memory and
//!   the part of its heap SQLite holds (page caches, statements), every 5 s.

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::codes::{ECode, Family};
use crate::config::{LogFormat, TelemetrySettings};

/// Keeps the log writer's background thread alive; drop it last.
pub type LogGuard = tracing_appender::non_blocking::WorkerGuard;

/// The filter of the running log, changed by a configuration reload.
pub struct LogFilter(
    Box<dyn Fn(tracing_subscriber::EnvFilter) -> Result<(), String> + Send + Sync>,
);

impl LogFilter {
    /// Filters the log with `directives` (`telemetry.log_level`) from now on.
    pub fn set(&self, directives: &str) -> Result<(), String> {
        let filter =
            tracing_subscriber::EnvFilter::try_new(directives).map_err(|e| e.to_string())?;
        (self.0)(filter)
    }
}

/// Sets up logging to stderr through a background writer, so that a slow terminal or
/// pipe never stalls the packet path; returns the writer's guard and the filter.
pub fn init_logging(settings: &TelemetrySettings) -> (LogGuard, LogFilter) {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(1 << 16)
        // Batches lines into few writes; the writer thread flushes whenever it has
        // drained its queue, so an idle daemon's lines appear at once.
        .finish(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stderr(),
        ));
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let filter = match settings.log_format {
        LogFormat::Text => {
            let builder = builder.with_filter_reloading();
            let handle = builder.reload_handle();
            builder.init();
            LogFilter(Box::new(move |f| {
                handle.reload(f).map_err(|e| e.to_string())
            }))
        }
        LogFormat::Json => {
            let builder = builder.json().with_filter_reloading();
            let handle = builder.reload_handle();
            builder.init();
            LogFilter(Box::new(move |f| {
                handle.reload(f).map_err(|e| e.to_string())
            }))
        }
    };
    (guard, filter)
}

/// Installs the Prometheus recorder; call once per process.
pub fn install_metrics() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let latency_buckets = [
        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    ];
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), &latency_buckets)?
        .install_recorder()
}

/// Serves `/metrics` on `listener` within `limits` until `shutdown` is cancelled.
/// Every 5 s it sets the resident memory and calls `sample`, which sets the gauges of
/// parts that report themselves (the store).
pub async fn serve_metrics(
    handle: PrometheusHandle,
    listener: TcpListener,
    limits: crate::config::HttpSettings,
    sample: impl Fn() + Send + 'static,
    shutdown: CancellationToken,
) {
    let upkeep = handle.clone();
    let sampling = async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
            if let Some(bytes) = resident_bytes() {
                metrics::gauge!("turnstile_process_resident_bytes").set(bytes as f64);
            }
            sample();
        }
    };
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { handle.render() }
        }),
    );
    tokio::select! {
        () = crate::http_listener::serve(listener, app, None, limits, "metrics", shutdown) => {}
        () = sampling => {}
    }
}

/// This process's resident memory, from `/proc/self/statm` (Linux).
#[allow(unsafe_code)]
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf reads a constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// Counter handles of the RADIUS hot path, resolved once.
#[derive(Debug, Clone)]
pub struct RadiusMetrics {
    /// Datagrams read.
    pub received: Counter,
    /// Access-Requests handed to a worker.
    pub access_requests: Counter,
    /// Status-Server requests handed to a worker.
    pub status_server: Counter,
    /// Retransmissions answered from the cache.
    pub resent: Counter,
    /// Retransmissions ignored while in progress.
    pub in_progress: Counter,
    /// Receipt-to-reply latency.
    pub latency: Histogram,
    status_accepts: Counter,
    access_replies: HashMap<ECode, Counter>,
}

impl Default for RadiusMetrics {
    fn default() -> Self {
        let requests =
            |t: &'static str| metrics::counter!("turnstile_radius_requests_total", "type" => t);
        let duplicates = |o: &'static str| metrics::counter!("turnstile_radius_duplicates_total", "outcome" => o);
        let access_replies = ECode::ALL
            .iter()
            .filter(|c| matches!(c.family(), Family::Success | Family::Refusal))
            .map(|&code| {
                let kind = if code == ECode::LoginSuccess {
                    "access_accept"
                } else {
                    "access_reject"
                };
                let counter = metrics::counter!(
                    "turnstile_radius_replies_total",
                    "type" => kind,
                    "code" => code.to_string()
                );
                (code, counter)
            })
            .collect();
        RadiusMetrics {
            received: metrics::counter!("turnstile_radius_received_total"),
            access_requests: requests("access_request"),
            status_server: requests("status_server"),
            resent: duplicates("resent"),
            in_progress: duplicates("in_progress"),
            latency: metrics::histogram!("turnstile_radius_request_duration_seconds"),
            status_accepts: metrics::counter!(
                "turnstile_radius_replies_total",
                "type" => "status_accept",
                "code" => ECode::LoginSuccess.to_string()
            ),
            access_replies,
        }
    }
}

impl RadiusMetrics {
    /// Counts an Access-Accept (E0000) or Access-Reject with its code.
    pub fn access_reply(&self, code: ECode) {
        if let Some(c) = self.access_replies.get(&code) {
            c.increment(1);
        }
    }

    /// Counts a reply to Status-Server.
    pub fn status_reply(&self) {
        self.status_accepts.increment(1);
    }

    /// Counts a datagram dropped unanswered.
    pub fn dropped(&self, reason: &'static str) {
        metrics::counter!("turnstile_radius_dropped_total", "reason" => reason).increment(1);
    }
}
