//! Test harness: a real `turnstile serve` process on free ports in a temp directory, and
//! a RADIUS client speaking over real UDP sockets.
#![allow(dead_code)]

use radius::core::code::Code;
use radius::core::rfc2865::{
    CHAP_CHALLENGE_TYPE, CHAP_PASSWORD_TYPE, NAS_IP_ADDRESS_TYPE, REPLY_MESSAGE_TYPE,
    USER_NAME_TYPE, USER_PASSWORD_TYPE,
};
use radius::core::rfc2866::{ACCT_SESSION_ID_TYPE, ACCT_STATUS_TYPE_TYPE};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use turnstile::auth::credentials::chap_response;
use turnstile::proto::radius::crypto::{
    hide_password, verify_message_authenticator, verify_response, SharedSecret,
};
use turnstile::proto::radius::packet::{Packet, PacketBuilder};

/// Shared secret of the test NAS clients.
pub const SECRET: &str = "s3cret-test";

/// One HTTP request (JSON body if any; redirects are not followed): the status, the
/// headers as `name: value` lines, and the body.
pub fn http(method: &str, url: &str, json: Option<&str>) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    if json.is_some() {
        request = request.header("Content-Type", "application/json");
    }
    let request = request
        .body(json.unwrap_or_default().to_string())
        .expect("a request");
    let mut reply = agent
        .run(request)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let head: String = reply
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}\r\n", v.to_str().unwrap_or_default()))
        .collect();
    let body = reply.body_mut().read_to_string().unwrap_or_default();
    (reply.status().as_u16(), head, body)
}

/// The JSON inside a portal reply `jsonp(…)`, cut out by position as bitsrun does.
pub fn jsonp(body: &str) -> serde_json::Value {
    assert!(body.starts_with("jsonp(") && body.ends_with(')'), "{body}");
    serde_json::from_str(&body[6..body.len() - 1]).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The named fields of JSON rows as strings; `cause` and `via` (`"E4103: …"`) as the
/// code's number.
fn pick(rows: &[serde_json::Value], fields: &[&str]) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .map(|row| {
            fields
                .iter()
                .map(|f| match &row[*f] {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) if *f == "cause" || *f == "via" => {
                        Some(s[1..s.find(':').unwrap_or(s.len())].to_string())
                    }
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
                .collect()
        })
        .collect()
}

/// A daemon started for one test.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub auth: SocketAddr,
    pub acct: SocketAddr,
    pub api: SocketAddr,
    pub portal: SocketAddr,
    pub metrics: SocketAddr,
    child: Child,
    stderr: Arc<Mutex<String>>,
    env: Vec<(String, String)>,
}

/// The PostgreSQL server the suite runs on (`TURNSTILE_TEST_POSTGRES`, a URL without a
/// database, as `scripts/pg-cluster.sh` prints it), or None for SQLite.
pub fn postgres_server() -> Option<String> {
    std::env::var("TURNSTILE_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A new, empty database on [`postgres_server`] for one test; its URL.
pub fn fresh_postgres_database(server: &str) -> String {
    use sqlx::Connection;
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    // Process ids come round again between runs on the same server.
    let name = format!(
        "t{}_{}_{:08x}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        rand::random::<u32>()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut c = sqlx::PgConnection::connect(&format!("{server}/postgres"))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {server}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    });
    format!("{server}/{name}")
}

/// The `[store] url` line of a new test daemon: a fresh database when the suite runs on
/// PostgreSQL; nothing (the SQLite default) otherwise.
fn store_url() -> String {
    match postgres_server() {
        Some(server) => format!("url = \"{}\"", fresh_postgres_database(&server)),
        None => String::new(),
    }
}

/// The config every test daemon starts from; `extra` is appended.
///
/// Clients: 127.0.0.1 requires Message-Authenticator; 127.0.0.2 does not.
pub fn base_config(data_dir: &std::path::Path, extra: &str) -> String {
    let store_url = store_url();
    format!(
        r#"
[general]
data_dir = "{data}"

[radius]
listen = "127.0.0.1"
auth_port = 0
acct_port = 0
workers = 2
recv_buffer_bytes = 1048576

[[radius.clients]]
name = "strict-nas"
address = "127.0.0.1"
secret = "{SECRET}"

[[radius.clients]]
name = "legacy-nas"
address = "127.0.0.2/32"
secret = "{SECRET}"
require_message_authenticator = false

[store]
sync_interval_ms = 200
{store_url}

[api]
listen = "127.0.0.1:0"

[portal]
listen = "127.0.0.1:0"
# Every test logs in from 127.0.0.1; the limit has its own test.
logins_per_minute = 0

[telemetry]
metrics_listen = "127.0.0.1:0"
log_level = "info"

[[bootstrap.users]]
name = "alice"
password = "wonderland"

[[bootstrap.users]]
name = "carol"
password = "chap-secret"
{extra}
"#,
        data = data_dir.display()
    )
}

/// Calls `check` every 20 ms until it gives a value, for at most `limit`; then fails
/// with what `failure` says.
pub fn wait_until<T>(
    limit: Duration,
    failure: impl Fn() -> String,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{}", failure());
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Daemon {
    /// Starts a daemon with the base config.
    pub fn start() -> Daemon {
        Self::start_with("", &[])
    }

    /// Starts a daemon with extra TOML and environment overrides. The minimum interval
    /// between logins (E2532) is off unless `env` sets it, so tests may log in repeatedly.
    pub fn start_with(extra: &str, env: &[(&str, &str)]) -> Daemon {
        Self::start_edited(|c| c + extra, env)
    }

    /// Starts a daemon on the base config as `edit` changes it.
    pub fn start_edited(edit: impl FnOnce(String) -> String, env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("turnstile.toml");
        std::fs::write(&config, edit(base_config(&dir.path().join("data"), ""))).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::spawn(dir, config, env)
    }

    /// Another node of this daemon's cluster: the same config and database, a copy of
    /// its key file and api.token (as docs/cluster.md says to make), its own data
    /// directory and ports; `env` on top.
    pub fn join(&self, env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        for file in ["secret.key", "api.token"] {
            std::fs::copy(self.dir.path().join("data").join(file), data.join(file))
                .unwrap_or_else(|e| panic!("copying {file}: {e}"));
        }
        let text = std::fs::read_to_string(&self.config).unwrap();
        let old = self.dir.path().join("data");
        let config = dir.path().join("turnstile.toml");
        std::fs::write(
            &config,
            text.replace(&old.display().to_string(), &data.display().to_string()),
        )
        .unwrap();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::spawn(dir, config, env)
    }

    /// Ended sessions as the API lists them, oldest first, each as the named fields
    /// (strings; numbers written out; `cause` and `via` as their code's number).
    pub fn history(&self, fields: &[&str]) -> Vec<Vec<Option<String>>> {
        let rows = self.api().call("GET", "/api/v1/sessions?limit=10000", None);
        let mut rows = rows.expect("history")["data"].as_array().unwrap().clone();
        rows.reverse();
        pick(&rows, fields)
    }

    /// Sessions online as the API lists them, each as the named fields.
    pub fn online(&self, fields: &[&str]) -> Vec<Vec<Option<String>>> {
        let rows = self.api().call("GET", "/api/v1/online", None);
        pick(rows.expect("online")["data"].as_array().unwrap(), fields)
    }

    /// Kills the daemon with SIGKILL: no chance to flush or finish anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the daemon again on the same data after [`Daemon::kill9`], with the same
    /// environment and `env` on top.
    pub fn respawn_with(&mut self, env: &[(&str, &str)]) {
        for (k, v) in env {
            self.env.retain(|(key, _)| key != k);
            self.env.push((k.to_string(), v.to_string()));
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let fresh = Self::spawn(dir, self.config.clone(), self.env.clone());
        drop(std::mem::replace(self, fresh));
    }

    /// Runs a CLI command that must succeed and print JSON; returns it.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli_ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("turnstile {args:?}: {e}: {out}"))
    }

    /// Runs a CLI command that must fail; returns its stderr.
    pub fn cli_err(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            !out.status.success(),
            "turnstile {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Asks the daemon to read its config file again (SIGHUP, as `systemctl reload` does).
    pub fn reload(&self) {
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGHUP);
        }
    }

    /// Stops the daemon with SIGTERM, as systemd does (unless it has exited); how long it
    /// took to exit.
    pub fn terminate(&mut self) -> Duration {
        let asked = std::time::Instant::now();
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return Duration::ZERO;
        }
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
        asked.elapsed()
    }

    /// Stops the daemon (SIGTERM) and starts it again on the same data.
    pub fn restart(&mut self) {
        self.terminate();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let fresh = Self::spawn(dir, self.config.clone(), self.env.clone());
        // The old value's Drop only kills a process that has already exited.
        drop(std::mem::replace(self, fresh));
    }

    fn spawn(dir: tempfile::TempDir, config: PathBuf, env: Vec<(String, String)>) -> Daemon {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_turnstile"));
        cmd.arg("--config")
            .arg(&config)
            .arg("serve")
            .env("TURNSTILE__POLICY__MIN_AUTH_INTERVAL_SECS", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn turnstile");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let ready = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("daemon not ready: {}", stderr.lock().unwrap()));
        let field = |name: &str| -> SocketAddr {
            ready
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {ready:?}"))
        };
        Daemon {
            auth: field("auth="),
            acct: field("acct="),
            api: field("api="),
            portal: field("portal="),
            metrics: field("metrics="),
            dir,
            config,
            child,
            stderr,
            env,
        }
    }

    /// Runs a CLI command against the daemon's config and store.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_turnstile"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .expect("run turnstile CLI")
    }

    /// Runs a CLI command that must succeed; returns its stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "turnstile {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The daemon's data directory: `data` beside its config, unless the test's
    /// environment moved it.
    pub fn data_dir(&self) -> PathBuf {
        self.env
            .iter()
            .find(|(k, _)| k == "TURNSTILE__GENERAL__DATA_DIR")
            .map(|(_, v)| PathBuf::from(v))
            .unwrap_or_else(|| self.dir.path().join("data"))
    }

    /// The secret of the admin token the daemon made from `DATA_DIR/api.token`.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("api.token")).expect("api.token")
    }

    /// A client of the operator API with the admin token.
    pub fn api(&self) -> turnstile::admin::client::ApiClient {
        turnstile::admin::client::ApiClient::new(
            &format!("http://{}", self.api),
            &self.admin_token(),
            Duration::from_secs(30),
        )
    }

    /// Creates a token with `role` (and `user`) through the CLI; returns its secret.
    pub fn token(&self, name: &str, role: &str, user: Option<&str>) -> String {
        let mut args = vec!["token", "add", name, "--role", role];
        if let Some(u) = user {
            args.extend(["--user", u]);
        }
        self.cli_ok(&args).trim().to_string()
    }

    /// The daemon's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// The files the daemon's process holds open.
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }

    /// The Prometheus text of `/metrics`.
    pub fn metrics_text(&self) -> String {
        http("GET", &format!("http://{}/metrics", self.metrics), None).2
    }

    /// The value of one metric line (exact name with labels), 0 if absent.
    pub fn metric(&self, series: &str) -> f64 {
        self.metrics_text()
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0)
    }

    /// Waits until `series` reaches `value` (metrics are updated after the reply).
    pub fn wait_metric(&self, series: &str, value: f64) {
        let v = wait_until(
            Duration::from_secs(5),
            || {
                format!(
                    "{series} stayed at {}, expected {value}",
                    self.metric(series)
                )
            },
            || Some(self.metric(series)).filter(|v| *v >= value),
        );
        assert_eq!(v, value, "{series}");
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until a log line contains every one of `parts` (the log reaches the test
    /// through a pipe, after the metrics and replies that follow it); returns the line.
    pub fn wait_log(&self, parts: &[&str]) -> String {
        wait_until(
            Duration::from_secs(5),
            || format!("no log line with {parts:?} in:\n{}", self.log()),
            || {
                let log = self.log();
                let line = log.lines().find(|l| parts.iter().all(|p| l.contains(p)));
                line.map(str::to_string)
            },
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A NAS: a UDP socket on a given loopback address.
pub struct Nas {
    pub socket: UdpSocket,
    pub secret: Vec<u8>,
    next_id: u8,
}

/// A reply, parsed.
#[derive(Debug, Clone)]
pub struct Reply {
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn packet(&self) -> Packet<'_> {
        Packet::parse(&self.bytes).expect("well-formed reply")
    }
    pub fn code(&self) -> Code {
        self.packet().code()
    }
    pub fn reply_message(&self) -> String {
        let text: Vec<u8> = self
            .packet()
            .attributes()
            .filter(|a| a.typ == REPLY_MESSAGE_TYPE)
            .flat_map(|a| a.value.to_vec())
            .collect();
        String::from_utf8(text).expect("UTF-8 Reply-Message")
    }
    pub fn first_attribute_type(&self) -> Option<u8> {
        self.packet().attributes().next().map(|a| a.typ)
    }
    /// Values of every attribute of type `typ`, in order.
    pub fn values(&self, typ: u8) -> Vec<Vec<u8>> {
        self.packet()
            .attributes()
            .filter(|a| a.typ == typ)
            .map(|a| a.value.to_vec())
            .collect()
    }
    /// The first attribute of type `typ` as a 32-bit integer.
    pub fn integer(&self, typ: u8) -> Option<u32> {
        let v = self.packet().first(typ)?;
        Some(u32::from_be_bytes(v.try_into().ok()?))
    }
}

/// A request to send and the authenticator needed to check its reply.
pub struct Request {
    pub bytes: Vec<u8>,
    pub authenticator: [u8; 16],
    pub id: u8,
}

impl Nas {
    /// A NAS sending from `ip` to the daemon.
    pub fn new(ip: &str, daemon: &Daemon) -> Nas {
        let socket = UdpSocket::bind((ip, 0)).expect("bind NAS socket");
        socket.connect(daemon.auth).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        Nas {
            socket,
            secret: SECRET.as_bytes().to_vec(),
            next_id: 0,
        }
    }

    fn id(&mut self) -> u8 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// A PAP Access-Request, with or without Message-Authenticator.
    pub fn pap(&mut self, user: &str, password: &str, message_authenticator: bool) -> Request {
        self.pap_with(user, password, message_authenticator, &[])
    }

    /// A PAP Access-Request with extra attributes (type, value) after the password.
    pub fn pap_with(
        &mut self,
        user: &str,
        password: &str,
        message_authenticator: bool,
        extra: &[(u8, &[u8])],
    ) -> Request {
        let id = self.id();
        let authenticator: [u8; 16] = rand::random();
        let hidden = hide_password(password.as_bytes(), &self.secret, &authenticator).unwrap();
        let mut b = PacketBuilder::new(Code::AccessRequest, id);
        if message_authenticator {
            b = b.message_authenticator();
        }
        b = b
            .attribute(USER_NAME_TYPE, user.as_bytes())
            .unwrap()
            .attribute(USER_PASSWORD_TYPE, &hidden)
            .unwrap()
            .attribute(NAS_IP_ADDRESS_TYPE, &[127, 0, 0, 1])
            .unwrap();
        for (typ, value) in extra {
            b = b.attribute(*typ, value).unwrap();
        }
        let bytes = b.finish_access_request(&authenticator, &SharedSecret::new(&self.secret));
        Request {
            bytes,
            authenticator,
            id,
        }
    }

    /// Sends `request` until `check` holds for the reply, for at most two seconds: changes
    /// made with the CLI reach the daemon within one sync interval.
    pub fn eventually(
        &mut self,
        mut request: impl FnMut(&mut Nas) -> Request,
        check: impl Fn(&Reply) -> bool,
    ) -> Reply {
        let deadline = Instant::now() + Duration::from_secs(2);
        // A NAS the daemon does not know yet gets no answer: do not wait long for one.
        self.socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        loop {
            let r = request(self);
            let reply = self.try_exchange(&r);
            match reply {
                Some(reply) if check(&reply) => {
                    self.socket
                        .set_read_timeout(Some(Duration::from_secs(3)))
                        .unwrap();
                    return reply;
                }
                other => assert!(
                    Instant::now() < deadline,
                    "not as expected after 2 s: {:?}",
                    other.map(|r| (r.code(), r.reply_message()))
                ),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `request` until no reply comes (the daemon dropped the NAS), for at most
    /// two seconds.
    pub fn until_ignored(&mut self, mut request: impl FnMut(&mut Nas) -> Request) {
        self.socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let r = request(self);
            if self.try_exchange(&r).is_none() {
                break;
            }
            assert!(Instant::now() < deadline, "still answered after 2 s");
        }
        self.socket
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
    }

    /// A CHAP Access-Request; with `challenge` None the authenticator is the challenge.
    pub fn chap(&mut self, user: &str, password: &str, challenge: Option<&[u8]>) -> Request {
        let id = self.id();
        let authenticator: [u8; 16] = rand::random();
        let ident = 42;
        let response = chap_response(
            ident,
            password.as_bytes(),
            challenge.unwrap_or(&authenticator),
        );
        let mut chap = vec![ident];
        chap.extend_from_slice(&response);
        let mut b = PacketBuilder::new(Code::AccessRequest, id)
            .message_authenticator()
            .attribute(USER_NAME_TYPE, user.as_bytes())
            .unwrap()
            .attribute(CHAP_PASSWORD_TYPE, &chap)
            .unwrap();
        if let Some(c) = challenge {
            b = b.attribute(CHAP_CHALLENGE_TYPE, c).unwrap();
        }
        let bytes = b.finish_access_request(&authenticator, &SharedSecret::new(&self.secret));
        Request {
            bytes,
            authenticator,
            id,
        }
    }

    /// A Status-Server request.
    pub fn status_server(&mut self, message_authenticator: bool) -> Request {
        let id = self.id();
        let authenticator: [u8; 16] = rand::random();
        let mut b = PacketBuilder::new(Code::StatusServer, id);
        if message_authenticator {
            b = b.message_authenticator();
        }
        Request {
            bytes: b.finish_access_request(&authenticator, &SharedSecret::new(&self.secret)),
            authenticator,
            id,
        }
    }

    pub fn send(&self, bytes: &[u8]) {
        self.socket.send(bytes).expect("send");
    }

    /// The next datagram, or None after the read timeout.
    pub fn recv(&self) -> Option<Vec<u8>> {
        let mut buf = [0u8; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => Some(buf[..n].to_vec()),
            Err(_) => None,
        }
    }

    /// Sends `request` and returns its verified reply (authenticator and
    /// Message-Authenticator checked, identifier matched).
    pub fn exchange(&self, request: &Request) -> Reply {
        self.send(&request.bytes);
        let bytes = self.recv().expect("a reply");
        self.verify(request, bytes)
    }

    /// Like [`Nas::exchange`], but None when no reply comes within the read timeout.
    pub fn try_exchange(&self, request: &Request) -> Option<Reply> {
        self.send(&request.bytes);
        self.recv().map(|bytes| self.verify(request, bytes))
    }

    /// Checks that `bytes` is an authentic reply to `request`.
    pub fn verify(&self, request: &Request, bytes: Vec<u8>) -> Reply {
        let reply = Reply { bytes };
        assert_eq!(reply.packet().identifier(), request.id, "identifier");
        assert!(
            verify_response(&reply.bytes, &request.authenticator, &self.secret),
            "response authenticator"
        );
        let ma = verify_message_authenticator(
            &reply.bytes,
            &request.authenticator,
            &SharedSecret::new(&self.secret),
        );
        // Required in replies to Access-Request; optional in Accounting-Response.
        if reply.code() == Code::AccountingResponse {
            assert_ne!(ma, Some(false), "Message-Authenticator");
        } else {
            assert_eq!(ma, Some(true), "Message-Authenticator");
        }
        reply
    }

    /// A NAS sending accounting from `ip` to the daemon.
    pub fn accounting(ip: &str, daemon: &Daemon) -> Nas {
        let nas = Nas::new(ip, daemon);
        nas.socket.connect(daemon.acct).unwrap();
        nas
    }

    /// An Accounting-Request: Acct-Status-Type `status` (1 Start, 2 Stop, 3 Interim-Update,
    /// 7 Accounting-On, 8 Accounting-Off) for `session` of `user`.
    pub fn acct(&mut self, status: u32, session: &str, user: &str) -> Request {
        self.acct_with(status, session, user, &[])
    }

    /// An Accounting-Request with extra attributes (type, value).
    pub fn acct_with(
        &mut self,
        status: u32,
        session: &str,
        user: &str,
        extra: &[(u8, &[u8])],
    ) -> Request {
        let id = self.id();
        let own = match self.socket.local_addr().unwrap().ip() {
            std::net::IpAddr::V4(ip) => ip.octets(),
            std::net::IpAddr::V6(_) => [127, 0, 0, 1],
        };
        let mut b = PacketBuilder::new(Code::AccountingRequest, id)
            .u32_attribute(ACCT_STATUS_TYPE_TYPE, status)
            .unwrap()
            .attribute(NAS_IP_ADDRESS_TYPE, &own)
            .unwrap();
        if !session.is_empty() {
            b = b
                .attribute(ACCT_SESSION_ID_TYPE, session.as_bytes())
                .unwrap();
        }
        if !user.is_empty() {
            b = b.attribute(USER_NAME_TYPE, user.as_bytes()).unwrap();
        }
        for (typ, value) in extra {
            b = b.attribute(*typ, value).unwrap();
        }
        let bytes = b.finish_signed_request(&SharedSecret::new(&self.secret));
        Request {
            authenticator: bytes[4..20].try_into().unwrap(),
            bytes,
            id,
        }
    }
}

/// How the NAS simulator answers Disconnect and CoA requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Disconnect-ACK / CoA-ACK.
    Ack,
    /// NAK with this Error-Cause.
    Nak(u32),
    /// Nothing.
    Silence,
    /// ACK after this long (less than the first retry's wait), holding up later requests.
    AckAfter(Duration),
    /// First a flood of forged replies (garbage, ACKs signed with another secret, ACKs
    /// to another identifier), then a NAK with this Error-Cause.
    ForgedThenNak(u32),
}

/// Replies that must not pass for an answer to the request (`id`, `authenticator`).
fn forged_replies(ack: Code, id: u8, authenticator: &[u8; 16]) -> Vec<Vec<u8>> {
    let wrong = SharedSecret::new(b"not-the-secret");
    let mut forged = Vec::new();
    for n in 0..100u8 {
        forged.push(vec![n; 1 + usize::from(n) % 40]);
        forged.push(
            PacketBuilder::new(ack, id)
                .message_authenticator()
                .finish_reply(authenticator, &wrong),
        );
        forged.push(
            PacketBuilder::new(ack, id.wrapping_add(1 + n % 200))
                .message_authenticator()
                .finish_reply(authenticator, &SharedSecret::new(SECRET.as_bytes())),
        );
    }
    forged
}

/// A NAS's Dynamic Authorization server (RFC 5176) for tests: checks each request's
/// authenticator and Message-Authenticator, keeps it, and answers as told.
pub struct NasSim {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl NasSim {
    pub fn start(ip: &str, answer: Answer) -> NasSim {
        let socket = UdpSocket::bind((ip, 0)).expect("bind NAS simulator");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (log, halt) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            let secret = SharedSecret::new(SECRET.as_bytes());
            let mut buf = [0u8; 4096];
            while !halt.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let bytes = buf[..n].to_vec();
                let Ok(p) = Packet::parse(&bytes) else {
                    continue;
                };
                // The request authenticator: MD5 over the packet with a zero one (RFC 5176).
                if !turnstile::proto::radius::crypto::verify_signed_request(
                    &bytes,
                    SECRET.as_bytes(),
                ) || verify_message_authenticator(&bytes, &[0; 16], &secret) != Some(true)
                {
                    continue;
                }
                let (ack, nak) = match p.code() {
                    Code::DisconnectRequest => (Code::DisconnectACK, Code::DisconnectNAK),
                    Code::CoARequest => (Code::CoAACK, Code::CoANAK),
                    _ => continue,
                };
                let authenticator = *p.authenticator();
                let id = p.identifier();
                log.lock().unwrap().push(bytes);
                let reply = match answer {
                    Answer::Silence => continue,
                    Answer::Ack => PacketBuilder::new(ack, id).message_authenticator(),
                    Answer::AckAfter(delay) => {
                        std::thread::sleep(delay);
                        PacketBuilder::new(ack, id).message_authenticator()
                    }
                    Answer::Nak(cause) => PacketBuilder::new(nak, id)
                        .message_authenticator()
                        .u32_attribute(101, cause)
                        .unwrap(),
                    Answer::ForgedThenNak(cause) => {
                        for bytes in forged_replies(ack, id, &authenticator) {
                            let _ = socket.send_to(&bytes, from);
                        }
                        PacketBuilder::new(nak, id)
                            .message_authenticator()
                            .u32_attribute(101, cause)
                            .unwrap()
                    }
                };
                let _ = socket.send_to(&reply.finish_reply(&authenticator, &secret), from);
            }
        });
        NasSim {
            addr,
            received,
            stop,
        }
    }

    /// The `[[radius.clients]]` entry of a NAS `name` at the simulator's address, in
    /// `vendor`'s dialect, taking Disconnect and CoA requests on the simulator's port.
    pub fn client_entry(&self, name: &str, vendor: &str) -> String {
        format!(
            "\n[[radius.clients]]\nname = \"{name}\"\naddress = \"{}\"\nsecret = \"{SECRET}\"\nvendor = \"{vendor}\"\ncoa_port = {}\n",
            self.addr.ip(),
            self.addr.port()
        )
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests have arrived.
    pub fn wait_requests(&self, n: usize) {
        wait_until(
            Duration::from_secs(5),
            || format!("the NAS got fewer than {n} requests"),
            || (self.requests().len() >= n).then_some(()),
        )
    }
}

impl Drop for NasSim {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A signed Accounting-Request Start of `session` for alice from 127.0.0.1.
pub fn start_request(id: u8, session: &str) -> Vec<u8> {
    PacketBuilder::new(Code::AccountingRequest, id)
        .u32_attribute(ACCT_STATUS_TYPE_TYPE, 1)
        .and_then(|b| b.attribute(ACCT_SESSION_ID_TYPE, session.as_bytes()))
        .and_then(|b| b.attribute(USER_NAME_TYPE, b"alice"))
        .and_then(|b| b.attribute(NAS_IP_ADDRESS_TYPE, &[127, 0, 0, 1]))
        .unwrap()
        .finish_signed_request(&SharedSecret::new(SECRET.as_bytes()))
}

/// Starts of fresh sessions sent to accounting servers, one thread per target, until
/// [`StartLoad::finish`]; what was acknowledged is recorded.
pub struct StartLoad {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<HashSet<String>>>,
    threads: Vec<std::thread::JoinHandle<usize>>,
}

impl StartLoad {
    /// Starts a thread sending to each of `targets`.
    pub fn start(targets: &[SocketAddr]) -> StartLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(HashSet::new()));
        let threads = targets
            .iter()
            .enumerate()
            .map(|(tag, &acct)| {
                let (stop, acked) = (stop.clone(), acked.clone());
                std::thread::spawn(move || load_starts(acct, tag, stop, acked))
            })
            .collect();
        StartLoad {
            stop,
            acked,
            threads,
        }
    }

    /// Waits until `n` Starts in all were acknowledged (at most 30 s).
    pub fn wait_for(&self, n: usize) {
        wait_until(
            Duration::from_secs(30),
            || format!("stuck at {} acknowledgements", self.acknowledged()),
            || (self.acknowledged() >= n).then_some(()),
        )
    }

    /// How many Starts were acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Stops sending; how many Starts were sent, and the sessions acknowledged.
    pub fn finish(self) -> (usize, HashSet<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let sent = self.threads.into_iter().map(|t| t.join().unwrap()).sum();
        let acked = self.acked.lock().unwrap().clone();
        (sent, acked)
    }
}

/// Asserts that every acknowledged session is among those `d` has online, and that no
/// more are stored than were sent; returns how many are stored.
pub fn assert_acknowledged_stored(d: &Daemon, acked: &HashSet<String>, sent: usize) -> usize {
    let stored: HashSet<String> = d
        .online(&["session_id"])
        .into_iter()
        .filter_map(|mut row| row.remove(0))
        .collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged Starts lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert!(
        stored.len() <= sent,
        "more stored ({}) than sent ({sent})",
        stored.len()
    );
    stored.len()
}

/// Sends Starts for fresh sessions from one socket, 64 at a time, until `stop`; returns
/// the sessions whose Accounting-Response arrived and verified.
fn load_starts(
    acct: std::net::SocketAddr,
    tag: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<HashSet<String>>>,
) -> usize {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(acct).unwrap();
    // Long enough for a debug daemon on a busy machine; a reply later than this is
    // not counted (its identifier, used every fourth round, finds its request gone).
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut sent = 0usize;
    let mut buf = [0u8; 4096];
    for round in 0usize.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let mut outstanding: HashMap<u8, (String, [u8; 16])> = HashMap::new();
        for id in (0..64u8).map(|i| i | ((round % 4) as u8) << 6) {
            let session = format!("k{tag}-{sent}");
            let bytes = start_request(id, &session);
            outstanding.insert(id, (session, bytes[4..20].try_into().unwrap()));
            sent += 1;
            if socket.send(&bytes).is_err() {
                return sent;
            }
        }
        while !outstanding.is_empty() {
            let Ok(n) = socket.recv(&mut buf) else { break };
            let reply = &buf[..n];
            if let Some((session, auth)) = outstanding.remove(&reply[1]) {
                if reply[0] == Code::AccountingResponse as u8
                    && verify_response(reply, &auth, SECRET.as_bytes())
                {
                    acked.lock().unwrap().insert(session);
                }
            }
        }
    }
    sent
}
