//! The login page in a real browser: headless Chromium driven over WebDriver by
//! chromedriver (Debian `chromium` and `chromium-driver`; `scripts/test.sh` installs them).
//! Screenshots of each state are written to `target/screenshots/`.

mod common;

use base64::Engine;
use common::Daemon;
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use turnstile::proto::srun::{client_login, hmac_md5_hex};

/// One exchange with chromedriver; the reply's JSON `value`.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(Value::to_string);
    let (_, _, reply) = common::http(method, &format!("http://{addr}{path}"), body.as_deref());
    let v: Value = serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{e}: {reply}"));
    v["value"].clone()
}

/// chromedriver with one headless Chromium session; both stop when dropped.
struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{driver_bin}: {e}. The browser test needs chromedriver and Chromium \
                     (Debian: apt-get install chromium chromium-driver; scripts/test.sh does it)"
                )
            });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut options = json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--window-size=420,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        });
        if let Ok(binary) = std::env::var("CHROMIUM") {
            options["binary"] = json!(binary);
        } else if std::path::Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}});
        let v = http(addr, "POST", "/session", Some(&caps));
        let session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        Browser {
            driver,
            addr,
            session,
            _profile: profile,
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        http(self.addr, method, &path, body.as_ref())
    }

    fn go(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn run(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    fn element(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        // The reference's one key is "element-6066-…" (its spelling varies by version).
        v.as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.starts_with("element-6066")))
            .and_then(|(_, id)| id.as_str())
            .unwrap_or_else(|| panic!("{css}: {v}"))
            .to_string()
    }

    /// Types `text` into the element (WebDriver keys: "\u{E007}" is Enter).
    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.cmd("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    fn text(&self, css: &str) -> String {
        self.run(&format!(
            "return document.querySelector({}).textContent;",
            json!(css)
        ))
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    fn visible(&self, css: &str) -> bool {
        self.run(&format!(
            "var e = document.querySelector({}); return !!e && e.offsetParent !== null;",
            json!(css)
        )) == json!(true)
    }

    /// Waits (up to 10 s) until `check` holds; panics with `what` otherwise.
    fn until(&self, what: &str, check: impl Fn(&Browser) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check(self) {
            assert!(
                Instant::now() < deadline,
                "{what}; message: {:?}",
                self.text("#message")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn screenshot(&self, name: &str) {
        let png = self.cmd("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"));
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("portal-{name}.png")), bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let _ = std::panic::catch_unwind(|| http(self.addr, "DELETE", &path, None));
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The page's own JavaScript computes what the server's codec does (vector B of the
/// protocol description, and its chksum through the page's login parameters).
#[test]
fn page_script_matches_the_server_codec() {
    let d = Daemon::start();
    let b = Browser::start();
    b.go(&format!("http://{}/", d.portal));
    let t = "e6843f26b8544327a3a25978dd3c5f89e6b745df1732993b88fe082c13a34cb9";
    let (user, password, ip) = ("201626203044@cmcc", "15879684798qq", "10.128.96.249");
    let got = b.run(&format!(
        "var p = Srun.loginParams({}, {}, {}, '1', {});
         return [p.info, p.password, p.chksum, Srun.hex(Srun.sha1(Srun.utf8('abc'))),
                 Srun.hex(Srun.md5(Srun.utf8(''))), Srun.hex(Srun.hmacMd5(Srun.utf8('密钥'), Srun.utf8('数据')))];",
        json!(user),
        json!(password),
        json!(ip),
        json!(t)
    ));
    let hmd5 = hmac_md5_hex(t.as_bytes(), password.as_bytes());
    let (info, sum) = client_login(t, user, password, ip, "1", &hmd5);
    assert_eq!(got[0], json!(info));
    assert_eq!(got[1], json!(format!("{{MD5}}{hmd5}")));
    assert_eq!(got[2], json!(sum));
    assert_eq!(got[3], "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_eq!(got[4], "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(
        got[5],
        json!(hmac_md5_hex("密钥".as_bytes(), "数据".as_bytes()))
    );
}

#[test]
fn log_in_refused_then_accepted_then_log_out() {
    let d = Daemon::start();
    let b = Browser::start();
    b.go(&format!("http://{}/", d.portal));
    b.until("the form is shown", |b| b.visible("#username"));
    assert_eq!(b.text("h1"), "网络认证");
    b.screenshot("1-form");

    // A wrong password: the code and its catalog text, in Chinese, then in English.
    b.type_into("#username", "alice");
    b.type_into("#password", "not-the-password\u{E007}");
    b.until("the refusal is shown", |b| {
        b.text("#message").contains("E2553")
    });
    assert_eq!(b.text("#message"), "E2553: 帐号或密码错误");
    b.screenshot("2-refused-zh");
    b.click("#lang");
    assert_eq!(b.text("#message"), "E2553: Wrong account or password");
    assert_eq!(b.text("h1"), "Network login");
    b.type_into("#password", "still-wrong");
    b.click("#login");
    b.until("the second refusal is shown", |b| {
        b.text("#message") == "E2553: Wrong account or password" && b.visible("#login")
    });
    b.screenshot("3-refused-en");

    // The right one: the status view.
    b.type_into("#password", "wonderland\u{E007}");
    b.until("the status view is shown", |b| b.visible("#status"));
    assert_eq!(b.text("#s-user"), "alice");
    assert_eq!(b.text("#s-ip"), "127.0.0.1");
    assert!(b.text("#s-time").contains(':'));
    assert_eq!(b.text("#s-balance"), "0 yuan");
    assert!(!b.visible("#login-form"));
    assert!(d.cli_ok(&["online", "--user", "alice"]).contains("portal/"));
    b.screenshot("4-online");

    // A reload shows the status view again: the page asks the server.
    b.go(&format!("http://{}/srun_portal_pc?ac_id=1", d.portal));
    b.until("the status view after a reload", |b| b.visible("#status"));

    b.click("#logout");
    b.until("the form after logout", |b| b.visible("#username"));
    assert_eq!(b.text("#message"), "Logged out");
    b.screenshot("5-logged-out");
    let history = d.cli_ok(&["sessions", "--user", "alice"]);
    assert!(history.contains("E2401"), "{history}");
    assert!(!d.cli_ok(&["online", "--user", "alice"]).contains("portal/"));
}
