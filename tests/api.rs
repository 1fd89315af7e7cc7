//! The operator API over real HTTP against a real daemon: users, the catalog, the
//! device registry, roles, the audit log and bad input. Effects are checked where they
//! matter: with RADIUS requests over UDP.

mod common;

use common::{Daemon, Nas, SECRET};
use radius::core::code::Code;
use serde_json::{json, Value};
use turnstile::admin::client::{ApiClient, Reply};

/// Asserts the reply's HTTP status and envelope code.
#[track_caller]
fn expect(reply: &Reply, status: u16, code: u64) {
    assert_eq!(
        (reply.status, reply.body["code"].as_u64()),
        (status, Some(code)),
        "{}",
        reply.body
    );
}

fn call(api: &ApiClient, method: &str, path: &str, body: Option<Value>) -> Reply {
    api.request(method, path, body.as_ref())
        .expect("the API answers")
}

/// The E-code number a CLI refusal printed (`error: E5993: …`).
fn cli_code(stderr: &str) -> u64 {
    let at = stderr.find(": E").expect("an E-code") + 3;
    stderr[at..at + 4].parse().expect("four digits")
}

#[test]
fn users_are_managed_over_the_api_with_their_codes() {
    let d = Daemon::start();
    let api = d.api();
    let mut nas = Nas::new("127.0.0.1", &d);

    let created = call(
        &api,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "bob", "password": "b0b-pass", "phone": "13800000000"})),
    );
    expect(&created, 200, 0);
    assert_eq!(created.body["result"], "E5001: 用户创建成功");
    nas.eventually(
        |n| n.pap("bob", "b0b-pass", true),
        |r| r.code() == Code::AccessAccept,
    );

    // Refusals: the code, a meaningful status, the field named.
    let again = json!({"name": "bob", "password": "x"});
    expect(&call(&api, "POST", "/api/v1/users", Some(again)), 409, 5993);
    let no_password = call(&api, "POST", "/api/v1/users", Some(json!({"name": "x"})));
    expect(&no_password, 400, 5990);
    assert!(no_password.body["msg"]
        .as_str()
        .unwrap()
        .contains("password"));
    let bad_name = json!({"name": " spaced ", "password": "x"});
    expect(
        &call(&api, "POST", "/api/v1/users", Some(bad_name)),
        400,
        5991,
    );
    let unknown = call(
        &api,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "y", "password": "x", "colour": "red"})),
    );
    expect(&unknown, 400, 5991);
    assert!(unknown.body["msg"].as_str().unwrap().contains("colour"));
    let wrong_type = call(
        &api,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "y", "password": "x", "balance_fen": "lots"})),
    );
    expect(&wrong_type, 400, 5991);
    assert!(wrong_type.body["msg"]
        .as_str()
        .unwrap()
        .contains("balance_fen"));
    let malformed = api
        .send(
            "POST",
            "/api/v1/users",
            Some(("application/json", b"{\"name\": ")),
        )
        .unwrap();
    expect(&malformed, 400, 5991);
    expect(&call(&api, "GET", "/api/v1/users/ghost", None), 404, 5992);
    expect(&call(&api, "GET", "/api/v1/nothing-here", None), 404, 404);
    // Nothing of the refused calls was written.
    let all = call(&api, "GET", "/api/v1/users", None);
    let names: Vec<&str> = all.body["data"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);

    // Read and change.
    let shown = call(&api, "GET", "/api/v1/users/bob", None);
    expect(&shown, 200, 0);
    assert_eq!(shown.body["data"]["phone"], "13800000000");
    assert!(shown.body["data"].get("password").is_none());
    let patched = call(
        &api,
        "PATCH",
        "/api/v1/users/bob",
        Some(json!({"phone": null, "max_online": 2})),
    );
    expect(&patched, 200, 0);
    assert_eq!(patched.body["result"], "E5010: 修改用户成功");
    let shown = call(&api, "GET", "/api/v1/users/bob", None);
    assert_eq!(shown.body["data"]["phone"], Value::Null);
    assert_eq!(shown.body["data"]["max_online"], 2);

    // Disable, enable, password: the NAS sees each.
    expect(
        &call(&api, "POST", "/api/v1/users/bob/disable", None),
        200,
        0,
    );
    nas.eventually(
        |n| n.pap("bob", "b0b-pass", true),
        |r| r.reply_message().starts_with("E2606"),
    );
    expect(
        &call(&api, "POST", "/api/v1/users/bob/enable", None),
        200,
        0,
    );
    let passwd = call(
        &api,
        "POST",
        "/api/v1/users/bob/password",
        Some(json!({"password": "n3w-pass"})),
    );
    expect(&passwd, 200, 0);
    assert_eq!(passwd.body["result"], "E5020: 修改用户成功");
    nas.eventually(
        |n| n.pap("bob", "n3w-pass", true),
        |r| r.code() == Code::AccessAccept,
    );

    // Groups: E5030, and E5031 for one that does not exist.
    let moved = call(
        &api,
        "POST",
        "/api/v1/users/bob/group",
        Some(json!({"group": "default"})),
    );
    expect(&moved, 200, 0);
    assert_eq!(moved.body["result"], "E5030: 转组成功");
    let nowhere = call(
        &api,
        "POST",
        "/api/v1/users/bob/group",
        Some(json!({"group": "ghosts"})),
    );
    expect(&nowhere, 404, 5031);

    // Bindings: each kind its code; a MAC binding refuses other stations (E2614).
    for (kind, value, bound) in [
        ("mac", "aa-bb-cc-dd-ee-01", "E5052"),
        ("nas_port", "slot=1;port=2", "E5054"),
        ("vlan", "100", "E5056"),
        ("ip", "10.0.0.7", "E5058"),
    ] {
        let r = call(
            &api,
            "POST",
            "/api/v1/users/bob/bind",
            Some(json!({"kind": kind, "value": value})),
        );
        expect(&r, 200, 0);
        assert!(
            r.body["result"].as_str().unwrap().starts_with(bound),
            "{}",
            r.body
        );
    }
    nas.eventually(
        |n| {
            n.pap_with(
                "bob",
                "n3w-pass",
                true,
                &[(31, b"aa-bb-cc-dd-ee-02".as_slice())],
            )
        },
        |r| r.reply_message().starts_with("E2614"),
    );
    for (kind, value, unbound) in [
        ("mac", "AA:BB:CC:DD:EE:01", "E5053"),
        ("nas_port", "slot=1;port=2", "E5055"),
        ("vlan", "100", "E5057"),
        ("ip", "10.0.0.7", "E5059"),
    ] {
        let r = call(
            &api,
            "POST",
            "/api/v1/users/bob/unbind",
            Some(json!({"kind": kind, "value": value})),
        );
        expect(&r, 200, 0);
        assert!(r.body["result"].as_str().unwrap().starts_with(unbound));
    }
    let not_bound = call(
        &api,
        "POST",
        "/api/v1/users/bob/unbind",
        Some(json!({"kind": "vlan", "value": "100"})),
    );
    expect(&not_bound, 404, 5011);
    let bad_binding = call(
        &api,
        "POST",
        "/api/v1/users/bob/bind",
        Some(json!({"kind": "vlan", "value": "5000"})),
    );
    expect(&bad_binding, 400, 5991);

    // Delete: the NAS then hears E2531.
    expect(&call(&api, "DELETE", "/api/v1/users/bob", None), 200, 0);
    expect(&call(&api, "DELETE", "/api/v1/users/bob", None), 404, 5992);
    nas.eventually(
        |n| n.pap("bob", "n3w-pass", true),
        |r| r.reply_message().starts_with("E2531"),
    );
}

#[test]
fn users_are_paged_filtered_and_imported_all_or_none() {
    let d = Daemon::start();
    let api = d.api();
    let csv: String = (0..250).map(|i| format!("user{i:03},pw{i}\n")).collect();
    let imported = api
        .send(
            "POST",
            "/api/v1/users/import",
            Some(("text/csv", csv.as_bytes())),
        )
        .unwrap();
    expect(&imported, 200, 0);
    assert_eq!(imported.body["data"]["imported"], 250);

    // A file with one existing name imports nothing and names the line.
    let clash = "new1,pw\nuser007,pw\nnew2,pw\n";
    let refused = api
        .send(
            "POST",
            "/api/v1/users/import",
            Some(("text/csv", clash.as_bytes())),
        )
        .unwrap();
    expect(&refused, 409, 5993);
    assert!(refused.body["msg"].as_str().unwrap().contains("line 2"));
    expect(&call(&api, "GET", "/api/v1/users/new1", None), 404, 5992);
    let bad_line = api
        .send(
            "POST",
            "/api/v1/users/import",
            Some(("text/csv", b"ok,pw\nbroken\n")),
        )
        .unwrap();
    expect(&bad_line, 400, 5991);

    let page = call(
        &api,
        "GET",
        "/api/v1/users?page=3&limit=100&name=user",
        None,
    );
    expect(&page, 200, 0);
    let data = &page.body["data"];
    assert_eq!(
        (data["total"].as_u64(), data["page"].as_u64()),
        (Some(250), Some(3))
    );
    let users = data["users"].as_array().unwrap();
    assert_eq!(users.len(), 50);
    assert_eq!(users[0]["name"], "user200");
    assert_eq!(users[49]["name"], "user249");

    call(&api, "POST", "/api/v1/users/user001/disable", None);
    call(
        &api,
        "PATCH",
        "/api/v1/users/user002",
        Some(json!({"add_products": ["standard"]})),
    );
    let disabled = call(&api, "GET", "/api/v1/users?enabled=false", None);
    assert_eq!(disabled.body["data"]["total"], 1);
    assert_eq!(disabled.body["data"]["users"][0]["name"], "user001");
    let holders = call(&api, "GET", "/api/v1/users?product=standard", None);
    assert_eq!(holders.body["data"]["total"], 1);
    assert_eq!(
        holders.body["data"]["users"][0]["products"],
        json!(["standard"])
    );

    expect(
        &call(&api, "GET", "/api/v1/users?limit=5000", None),
        400,
        5991,
    );
    expect(&call(&api, "GET", "/api/v1/users?page=0", None), 400, 5991);
    expect(
        &call(&api, "GET", "/api/v1/users?colour=red", None),
        400,
        5991,
    );
}

#[test]
fn roles_decide_what_a_token_may_call() {
    let d = Daemon::start();
    let admin = d.api();
    let readonly = admin.with_token(&d.token("viewer", "readonly", None));
    let operator = admin.with_token(&d.token("desk", "operator", None));
    let alice = admin.with_token(&d.token("alice-app", "self-service", Some("alice")));

    // No token, a wrong one: 401.
    expect(
        &call(&admin.with_token(""), "GET", "/api/v1/users", None),
        401,
        401,
    );
    expect(
        &call(&admin.with_token("nope"), "GET", "/api/v1/online", None),
        401,
        401,
    );

    // Read-only reads, and cannot change or kick.
    expect(&call(&readonly, "GET", "/api/v1/users", None), 200, 0);
    expect(&call(&readonly, "GET", "/api/v1/products", None), 200, 0);
    let kick = json!({"user": "alice"});
    expect(
        &call(&readonly, "POST", "/api/v1/kick", Some(kick.clone())),
        403,
        403,
    );
    let new_user = json!({"name": "dave", "password": "pw"});
    expect(
        &call(&readonly, "POST", "/api/v1/users", Some(new_user.clone())),
        403,
        403,
    );

    // The operator manages users but not the catalog, devices or tokens.
    expect(
        &call(&operator, "POST", "/api/v1/users", Some(new_user)),
        200,
        0,
    );
    let product = json!({"name": "p", "billing_policy": "free", "control_policy": "unlimited"});
    expect(
        &call(&operator, "POST", "/api/v1/products", Some(product)),
        403,
        403,
    );
    expect(&call(&operator, "GET", "/api/v1/tokens", None), 403, 403);
    let device = json!({"sn": "x", "alias": "x", "address": "10.9.9.9", "secret": "s"});
    expect(
        &call(&operator, "POST", "/api/v1/devices/regist", Some(device)),
        403,
        403,
    );

    // Self-service: its own user only.
    expect(&call(&alice, "GET", "/api/v1/users/alice", None), 200, 0);
    expect(&call(&alice, "GET", "/api/v1/users/carol", None), 403, 403);
    expect(&call(&alice, "GET", "/api/v1/users", None), 403, 403);
    let own = call(
        &alice,
        "POST",
        "/api/v1/users/alice/password",
        Some(json!({"password": "looking-glass"})),
    );
    expect(&own, 200, 0);
    let other = call(
        &alice,
        "POST",
        "/api/v1/users/carol/password",
        Some(json!({"password": "x"})),
    );
    expect(&other, 403, 403);
    expect(
        &call(&alice, "GET", "/api/v1/sessions?user=carol", None),
        403,
        403,
    );
    expect(&call(&alice, "GET", "/api/v1/sessions", None), 200, 0);
    expect(
        &call(
            &alice,
            "POST",
            "/api/v1/kick",
            Some(json!({"user": "carol"})),
        ),
        403,
        403,
    );
    // Its own user, not online: the portal's E6503.
    expect(&call(&alice, "POST", "/api/v1/kick", Some(kick)), 404, 6503);

    // Revoked over the API: refused at once; with the CLI (another process): within
    // the second a verified token is trusted.
    expect(&call(&admin, "DELETE", "/api/v1/tokens/desk", None), 200, 0);
    expect(&call(&operator, "GET", "/api/v1/users", None), 401, 401);
    expect(&call(&readonly, "GET", "/api/v1/users", None), 200, 0);
    d.cli_ok(&["token", "del", "viewer"]);
    let revoked = std::time::Instant::now();
    while call(&readonly, "GET", "/api/v1/users", None).status != 401 {
        assert!(revoked.elapsed().as_millis() < 1500, "still accepted");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let listed = d.cli_json(&["token", "list", "--json"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice-app", "api.token"]);
    // Tokens are stored hashed: the secret appears nowhere in the listing.
    assert!(!listed.to_string().contains(d.admin_token().trim()));
    let err = d.cli_err(&["token", "add", "orphan", "--role", "self-service"]);
    assert!(err.contains("E5990"), "{err}");

    // The audit log has every mutating call, refused ones too, with who and the code.
    let audit = d.cli_json(&["audit", "--json", "--limit", "1000"]);
    let rows = audit.as_array().unwrap();
    let has = |actor: &str, path: &str, status: u64, code: u64| {
        rows.iter().any(|r| {
            r["actor"] == actor && r["path"] == path && r["status"] == status && r["code"] == code
        })
    };
    assert!(has("desk", "/api/v1/users", 200, 0), "{audit}");
    assert!(has("viewer", "/api/v1/kick", 403, 403), "{audit}");
    assert!(
        has("alice-app", "/api/v1/users/alice/password", 200, 0),
        "{audit}"
    );
    assert!(has("alice-app", "/api/v1/kick", 404, 6503), "{audit}");
    assert!(
        rows.iter().all(|r| r["method"] != "GET"),
        "reads are not audited"
    );
}

#[test]
fn calls_refused_for_their_token_are_audited_within_a_rate() {
    let d = Daemon::start();
    let admin = d.api();
    let body = json!({"name": "mallory", "password": "pw"});
    let secret = "guessed-token-0123456789";
    expect(
        &call(
            &admin.with_token(""),
            "POST",
            "/api/v1/users",
            Some(body.clone()),
        ),
        401,
        401,
    );
    expect(
        &call(
            &admin.with_token(secret),
            "DELETE",
            "/api/v1/users/alice",
            None,
        ),
        401,
        401,
    );
    let audit = call(&admin, "GET", "/api/v1/audit?limit=1000", None);
    let rows = audit.body["data"].as_array().unwrap();
    let refused: Vec<&Value> = rows.iter().filter(|r| r["actor"] == "-").collect();
    assert_eq!(refused.len(), 2, "{audit:?}");
    for (row, (method, path)) in refused
        .iter()
        .zip([("DELETE", "/api/v1/users/alice"), ("POST", "/api/v1/users")])
    {
        assert_eq!(
            (row["method"].as_str(), row["path"].as_str()),
            (Some(method), Some(path))
        );
        assert_eq!(
            (row["status"].as_u64(), row["code"].as_u64()),
            (Some(401), Some(401))
        );
        let source: std::net::SocketAddr = row["source"].as_str().unwrap().parse().unwrap();
        assert!(source.ip().is_loopback(), "{row}");
    }
    assert!(
        !audit.body.to_string().contains(secret),
        "no secret in the log"
    );
    // An authenticated call has its source too.
    expect(
        &call(&admin, "POST", "/api/v1/users", Some(body.clone())),
        200,
        0,
    );
    let newest = &call(&admin, "GET", "/api/v1/audit?limit=1", None).body["data"][0];
    assert!(newest["actor"] != "-" && newest["source"].as_str().unwrap().starts_with("127.0.0.1:"));

    // A flood: the first calls of a burst are written, the rest only counted.
    let flood = admin.with_token(secret);
    let started = std::time::Instant::now();
    for _ in 0..300 {
        expect(
            &call(&flood, "POST", "/api/v1/users", Some(body.clone())),
            401,
            401,
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    let written = call(&admin, "GET", "/api/v1/audit?actor=-&limit=10000", None).body["data"]
        .as_array()
        .unwrap()
        .len() as f64;
    let (total, unwritten) = (
        d.metric("turnstile_audit_unauthenticated_total"),
        d.metric("turnstile_audit_unauthenticated_unwritten_total"),
    );
    assert_eq!(total, 302.0);
    assert_eq!(written + unwritten, total);
    // 100 at once, then one a second.
    assert!(written >= 100.0, "{written} written");
    assert!(
        written <= 100.0 + elapsed.ceil() + 1.0,
        "{written} written in {elapsed} s"
    );
}

#[test]
fn the_catalog_is_managed_over_the_api() {
    let d = Daemon::start();
    let api = d.api();
    let mut nas = Nas::new("127.0.0.1", &d);

    let created = call(
        &api,
        "POST",
        "/api/v1/control-policies",
        Some(json!({"name": "slow", "up_bps": 1_000_000, "down_bps": 2_000_000})),
    );
    expect(&created, 200, 0);
    assert_eq!(created.body["data"]["max_online"], 0, "defaults filled in");
    let product = json!({"name": "campus", "billing_policy": "free", "control_policy": "slow"});
    expect(
        &call(&api, "POST", "/api/v1/products", Some(product.clone())),
        200,
        0,
    );
    expect(
        &call(&api, "POST", "/api/v1/products", Some(product)),
        409,
        5991,
    );
    let incomplete = call(
        &api,
        "POST",
        "/api/v1/products",
        Some(json!({"name": "half", "control_policy": "slow"})),
    );
    expect(&incomplete, 400, 5990);
    assert!(incomplete.body["msg"]
        .as_str()
        .unwrap()
        .contains("billing_policy"));
    let dangling = call(
        &api,
        "POST",
        "/api/v1/products",
        Some(json!({"name": "later", "billing_policy": "gold", "control_policy": "slow"})),
    );
    expect(&dangling, 200, 0);
    assert!(dangling.body["warnings"][0]
        .as_str()
        .unwrap()
        .contains("gold"));

    let patched = call(
        &api,
        "PATCH",
        "/api/v1/control-policies/slow",
        Some(json!({"windows": ["08:00-22:00"]})),
    );
    expect(&patched, 200, 0);
    assert_eq!(patched.body["data"]["up_bps"], 1_000_000);
    let bad_window = call(
        &api,
        "PATCH",
        "/api/v1/control-policies/slow",
        Some(json!({"windows": ["25:00-26:00"]})),
    );
    expect(&bad_window, 400, 5991);
    expect(
        &call(
            &api,
            "PATCH",
            "/api/v1/control-policies/ghost",
            Some(json!({})),
        ),
        404,
        5991,
    );

    // In use: refused without force.
    let in_use = call(&api, "DELETE", "/api/v1/control-policies/slow", None);
    expect(&in_use, 409, 5991);
    assert!(in_use.body["msg"].as_str().unwrap().contains("campus"));
    expect(
        &call(
            &api,
            "DELETE",
            "/api/v1/control-policies/slow?force=true",
            None,
        ),
        200,
        0,
    );

    // A blacklisted MAC and the system switch reach the NAS.
    let listed = call(
        &api,
        "POST",
        "/api/v1/blacklist/mac",
        Some(json!({"name": "AA-BB-CC-00-00-09", "note": "stolen"})),
    );
    expect(&listed, 200, 0);
    assert_eq!(listed.body["data"]["name"], "aa:bb:cc:00:00:09");
    nas.eventually(
        |n| {
            n.pap_with(
                "alice",
                "wonderland",
                true,
                &[(31, b"aa:bb:cc:00:00:09".as_slice())],
            )
        },
        |r| r.reply_message().starts_with("E2612"),
    );
    expect(
        &call(
            &api,
            "DELETE",
            "/api/v1/blacklist/mac/aa:bb:cc:00:00:09",
            None,
        ),
        200,
        0,
    );
    let range = call(
        &api,
        "POST",
        "/api/v1/ip-table",
        Some(json!({"name": "10.20.0.0/16", "no_auth": true})),
    );
    expect(&range, 200, 0);
    expect(
        &call(&api, "GET", "/api/v1/ip-table/10.20.0.0%2F16", None),
        200,
        0,
    );
    let off = call(
        &api,
        "PATCH",
        "/api/v1/system",
        Some(json!({"auth_enabled": false})),
    );
    expect(&off, 200, 0);
    nas.eventually(
        |n| n.pap("alice", "wonderland", true),
        |r| r.reply_message().starts_with("E2535"),
    );
    call(
        &api,
        "PATCH",
        "/api/v1/system",
        Some(json!({"auth_enabled": true})),
    );
    nas.eventually(
        |n| n.pap("alice", "wonderland", true),
        |r| r.code() == Code::AccessAccept,
    );
    let shown = call(&api, "GET", "/api/v1/system", None);
    assert_eq!(shown.body["data"]["auth_enabled"], true);
}

#[test]
fn the_device_registry_speaks_the_device_api() {
    let d = Daemon::start();
    let api = d.api();
    let device = json!({
        "sn": "bras-9", "alias": "上海1", "address": "127.0.0.9",
        "secret": SECRET, "vendor": "huawei", "require_message_authenticator": false
    });
    let registered = call(&api, "POST", "/api/v1/devices/regist", Some(device.clone()));
    assert_eq!(registered.body, json!({"code": 0, "msg": "success"}));

    // Refusals carry the device API's codes.
    expect(
        &call(&api, "POST", "/api/v1/devices/regist", Some(device)),
        409,
        7007,
    );
    let same_alias =
        json!({"sn": "bras-10", "alias": "上海1", "address": "127.0.0.10", "secret": "s"});
    expect(
        &call(&api, "POST", "/api/v1/devices/regist", Some(same_alias)),
        409,
        7008,
    );
    let bad_alias =
        json!({"sn": "bras-10", "alias": "a\u{7}b", "address": "127.0.0.10", "secret": "s"});
    expect(
        &call(&api, "POST", "/api/v1/devices/regist", Some(bad_alias)),
        400,
        7009,
    );
    let bad_address = json!({"sn": "bras-10", "alias": "b", "address": "somewhere", "secret": "s"});
    expect(
        &call(&api, "POST", "/api/v1/devices/regist", Some(bad_address)),
        400,
        7001,
    );
    let missing = json!({"sn": "bras-10", "alias": "b"});
    expect(
        &call(&api, "POST", "/api/v1/devices/regist", Some(missing)),
        400,
        7010,
    );
    let malformed = api
        .send(
            "POST",
            "/api/v1/devices/regist",
            Some(("application/json", b"{sn")),
        )
        .unwrap();
    expect(&malformed, 400, 1);

    // list: the config file's two clients and the new one; filter by name.
    let list = json!({"page": 1, "limit": 10, "filtration": 0, "condition": "",
                      "sort_by": 0, "ascend": 1, "args": {"base": ["sn", "alias", "state"]}});
    let listed = call(&api, "POST", "/api/v1/devices/list", Some(list));
    expect(&listed, 200, 0);
    assert_eq!(listed.body["count"], 3);
    let by_name = json!({"page": 1, "limit": 10, "filtration": 1, "condition": "上海",
                         "sort_by": 0, "ascend": 1, "args": {}});
    let found = call(&api, "POST", "/api/v1/devices/list", Some(by_name));
    assert_eq!(found.body["count"], 1);
    assert_eq!(found.body["devices"][0]["base"]["sn"], "bras-9");
    assert_eq!(found.body["devices"][0]["base"]["type"], "huawei");
    assert_eq!(
        found.body["devices"][0]["radius"]["address"],
        "127.0.0.9/32"
    );

    // A RADIUS request from the registered NAS is answered once the daemon syncs.
    let mut nas = Nas::new("127.0.0.9", &d);
    nas.eventually(
        |n| n.pap("alice", "wonderland", false),
        |r| r.code() == Code::AccessAccept,
    );
    let queried = call(
        &api,
        "POST",
        "/api/v1/devices/query",
        Some(json!({"sns": ["bras-9", "nowhere"], "args": {}})),
    );
    expect(&queried, 200, 0);
    assert_eq!(queried.body["devices"]["bras-9"]["state"], 1);
    assert_eq!(
        queried.body["devices"]["bras-9"]["base"]["state"],
        "running"
    );
    assert_eq!(queried.body["devices"]["nowhere"]["state"], 0);

    // Deleted: its requests are dropped again.
    let deleted = call(
        &api,
        "POST",
        "/api/v1/devices/delete",
        Some(json!({"sn": "bras-9"})),
    );
    assert_eq!(deleted.body, json!({"code": 0, "msg": "success"}));
    expect(
        &call(
            &api,
            "POST",
            "/api/v1/devices/delete",
            Some(json!({"sn": "bras-9"})),
        ),
        404,
        7005,
    );
    nas.until_ignored(|n| n.pap("alice", "wonderland", false));
    let strict = call(
        &api,
        "POST",
        "/api/v1/devices/delete",
        Some(json!({"sn": "strict-nas"})),
    );
    expect(&strict, 409, 7007);
}

#[test]
fn oversized_bodies_are_refused_and_write_nothing() {
    let d = Daemon::start();
    let api = d.api();
    let big = json!({"name": "huge", "password": "x".repeat(2 << 20)});
    let refused = call(&api, "POST", "/api/v1/users", Some(big));
    expect(&refused, 413, 413);
    expect(&call(&api, "GET", "/api/v1/users/huge", None), 404, 5992);
}

#[test]
fn the_cli_and_the_api_give_the_same_code_for_the_same_failure() {
    let d = Daemon::start();
    let api = d.api();
    let cases: [(&[&str], &str, &str, Option<Value>); 7] = [
        (
            &["user", "add", "alice", "--password", "x"],
            "POST",
            "/api/v1/users",
            Some(json!({"name": "alice", "password": "x"})),
        ),
        (
            &["user", "passwd", "ghost", "--password", "x"],
            "POST",
            "/api/v1/users/ghost/password",
            Some(json!({"password": "x"})),
        ),
        (
            &["user", "group", "alice", "ghosts"],
            "POST",
            "/api/v1/users/alice/group",
            Some(json!({"group": "ghosts"})),
        ),
        (
            &["user", "add", "a\tb", "--password", "x"],
            "POST",
            "/api/v1/users",
            Some(json!({"name": "a\tb", "password": "x"})),
        ),
        (
            &["user", "unbind", "alice", "vlan", "7"],
            "POST",
            "/api/v1/users/alice/unbind",
            Some(json!({"kind": "vlan", "value": "7"})),
        ),
        (
            &["user", "bind", "alice", "mac", "nonsense"],
            "POST",
            "/api/v1/users/alice/bind",
            Some(json!({"kind": "mac", "value": "nonsense"})),
        ),
        (
            &["product", "add", "p", "--control-policy", "unlimited"],
            "POST",
            "/api/v1/products",
            Some(json!({"name": "p", "control_policy": "unlimited"})),
        ),
    ];
    for (args, method, path, body) in cases {
        let from_cli = cli_code(&d.cli_err(args));
        let from_api = call(&api, method, path, body).body["code"]
            .as_u64()
            .unwrap();
        assert_eq!(from_cli, from_api, "{args:?} vs {method} {path}");
    }
}

#[test]
fn the_openapi_document_describes_every_endpoint() {
    let d = Daemon::start();
    // No token needed: it describes, it does not reveal.
    let (status, _, body) = common::http(
        "GET",
        &format!("http://{}/api/v1/openapi.json", d.api),
        None,
    );
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/users", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{name}", "patch"),
        ("/api/v1/users/{name}/bind", "post"),
        ("/api/v1/users/import", "post"),
        ("/api/v1/online", "get"),
        ("/api/v1/kick", "post"),
        ("/api/v1/coa", "post"),
        ("/api/v1/settle", "post"),
        ("/api/v1/pay", "post"),
        ("/api/v1/ledger", "get"),
        ("/api/v1/packages/buy", "post"),
        ("/api/v1/devices/regist", "post"),
        ("/api/v1/tokens/{name}", "delete"),
        ("/api/v1/audit", "get"),
        ("/api/v1/products", "post"),
        ("/api/v1/control-policies/{name}", "delete"),
        ("/api/v1/blacklist/mac", "get"),
        ("/api/v1/ip-table/{name}", "get"),
        ("/api/v1/system", "patch"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    // Each operation lists its codes, with their texts from the catalog.
    let create = paths["/api/v1/users"]["post"]["description"]
        .as_str()
        .unwrap();
    assert!(create.contains("E5001 (用户创建成功"), "{create}");
    assert!(
        create.contains("E5993 (用户已存在 / User already exists)"),
        "{create}"
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "NewUser",
        "UserUpdate",
        "UserPage",
        "Binding",
        "Product",
        "ErrorReply",
    ] {
        assert!(schemas.contains_key(name), "schema {name}");
    }
    // The schemas are the handlers' own types: what they require is required here.
    let new_user = &schemas["NewUser"];
    assert_eq!(new_user["required"], json!(["name", "password"]));
}

#[test]
fn the_api_speaks_tls_when_configured() {
    let keys = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert_file, key_file) = (keys.path().join("api.crt"), keys.path().join("api.key"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let d = Daemon::start_edited(
        |c| {
            c.replace(
                "[api]\n",
                &format!(
                    "[api]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
                    cert_file.display(),
                    key_file.display()
                ),
            )
        },
        &[],
    );
    let timeout = std::time::Duration::from_secs(10);
    let der = cert.cert.der().to_vec();
    let https = ApiClient::with_roots(
        &format!("https://{}", d.api),
        &d.admin_token(),
        timeout,
        vec![der],
    );
    expect(&call(&https, "GET", "/api/v1/users/alice", None), 200, 0);
    // Plain HTTP gets no answer from a TLS port; a client that does not trust the
    // certificate refuses it.
    assert!(d.api().request("GET", "/api/v1/users", None).is_err());
    let untrusting = ApiClient::with_roots(
        &format!("https://{}", d.api),
        &d.admin_token(),
        timeout,
        vec![],
    );
    assert!(untrusting.request("GET", "/api/v1/users", None).is_err());
    // The CLI trusts the daemon's own certificate.
    let online = d.cli_json(&["online", "--json"]);
    assert_eq!(online, json!([]));
    // Half a pair is a configuration error naming the key.
    let c = d.config.with_file_name("half.toml");
    let text = std::fs::read_to_string(&d.config).unwrap();
    let key_line = format!("tls_key = \"{}\"\n", key_file.display());
    std::fs::write(&c, text.replace(&key_line, "")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnstile"))
        .arg("--config")
        .arg(&c)
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("api.tls_key"));
}

/// A body's fields in the order of its type.
type Fields = Vec<(&'static str, Value)>;

/// Everything a refused call must leave alone, as the API shows it: every list the
/// OpenAPI document offers (but the audit log, which records the refusals), alice in
/// full with her packages, and the device registry.
fn snapshot(api: &ApiClient, doc: &Value) -> Vec<(String, Value)> {
    let mut reads: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, ops)| {
            ops["get"].is_object() && !path.contains('{') && path.as_str() != "/api/v1/audit"
        })
        .map(|(path, _)| path.clone())
        .filter(|path| path != "/api/v1/packages")
        .collect();
    reads.push("/api/v1/users/alice".into());
    reads.push("/api/v1/packages?user=alice".into());
    let mut seen: Vec<(String, Value)> = reads
        .into_iter()
        .map(|path| {
            let reply = call(api, "GET", &path, None);
            expect(&reply, 200, 0);
            (path, reply.body)
        })
        .collect();
    let devices = call(
        api,
        "POST",
        "/api/v1/devices/list",
        Some(json!({"page": 1, "limit": 100, "filtration": 0})),
    );
    seen.push(("devices".into(), devices.body));
    seen
}

#[test]
fn bodies_of_the_wrong_shape_are_refused_on_every_route_and_write_nothing() {
    let d = Daemon::start();
    let api = d.api();
    let made = |method: &str, path: &str, body: Value| {
        let reply = call(&api, method, path, Some(body));
        assert_eq!(reply.body["code"], 0, "{method} {path}: {}", reply.body);
    };
    // Something for every route to change.
    made("POST", "/api/v1/control-policies", json!({"name": "slow"}));
    made("POST", "/api/v1/billing-policies", json!({"name": "bp"}));
    made(
        "POST",
        "/api/v1/products",
        json!({"name": "campus", "billing_policy": "free", "control_policy": "slow"}),
    );
    made("POST", "/api/v1/groups", json!({"name": "staff"}));
    made(
        "POST",
        "/api/v1/package-plans",
        json!({"name": "pk", "product": "campus", "valid_days": 30}),
    );
    made(
        "POST",
        "/api/v1/blacklist/mac",
        json!({"name": "aa:bb:cc:dd:ee:01"}),
    );
    made("POST", "/api/v1/blacklist/ip", json!({"name": "10.9.9.9"}));
    made("POST", "/api/v1/ip-table", json!({"name": "10.8.0.1"}));
    made(
        "PATCH",
        "/api/v1/users/alice",
        json!({"add_products": ["campus"], "bind": [{"kind": "vlan", "value": "7"}]}),
    );
    let registered = call(
        &api,
        "POST",
        "/api/v1/devices/regist",
        Some(json!({"sn": "nas-x", "alias": "X", "address": "127.0.0.8", "secret": "s"})),
    );
    assert_eq!(registered.body["code"], 0, "{}", registered.body);
    // The device is a live client within a sync interval; its state must not move later.
    common::wait_until(
        std::time::Duration::from_secs(10),
        || "nas-x never became a client".into(),
        || {
            let list = call(
                &api,
                "POST",
                "/api/v1/devices/list",
                Some(json!({"page": 1, "limit": 100, "filtration": 0})),
            );
            let devices = list.body["devices"].as_array().cloned().unwrap_or_default();
            devices
                .iter()
                .any(|d| d["base"]["sn"] == "nas-x" && d["base"]["state"] == "running")
                .then_some(())
        },
    );

    // For every mutating route that takes JSON: a body of the documented shape, fields in
    // the order of its type, so that an array of its values would fill the same fields.
    let ip_range = call(&api, "GET", "/api/v1/ip-table", None).body["data"][0]["name"]
        .as_str()
        .unwrap()
        .replace('/', "%2F");
    let routes: Vec<(&str, String, Fields)> = vec![
        (
            "POST",
            "/api/v1/billing-policies".into(),
            vec![("name", json!("bp-new"))],
        ),
        (
            "PATCH",
            "/api/v1/billing-policies/bp".into(),
            vec![("fen_per_hour", json!(7))],
        ),
        (
            "POST",
            "/api/v1/blacklist/ip".into(),
            vec![("name", json!("10.9.9.10"))],
        ),
        (
            "PATCH",
            "/api/v1/blacklist/ip/10.9.9.9".into(),
            vec![("note", json!("x"))],
        ),
        (
            "POST",
            "/api/v1/blacklist/mac".into(),
            vec![("name", json!("aa:bb:cc:dd:ee:02"))],
        ),
        (
            "PATCH",
            "/api/v1/blacklist/mac/aa:bb:cc:dd:ee:01".into(),
            vec![("note", json!("x"))],
        ),
        (
            "POST",
            "/api/v1/coa".into(),
            vec![
                ("session", json!("s")),
                ("up", json!(1)),
                ("down", json!(2)),
            ],
        ),
        (
            "POST",
            "/api/v1/control-policies".into(),
            vec![("name", json!("cp-new"))],
        ),
        (
            "PATCH",
            "/api/v1/control-policies/slow".into(),
            vec![("up_bps", json!(5))],
        ),
        (
            "POST",
            "/api/v1/devices/delete".into(),
            vec![("sn", json!("nas-x"))],
        ),
        (
            "POST",
            "/api/v1/devices/list".into(),
            vec![
                ("page", json!(1)),
                ("limit", json!(10)),
                ("filtration", json!(0)),
            ],
        ),
        (
            "POST",
            "/api/v1/devices/query".into(),
            vec![("sns", json!(["nas-x"]))],
        ),
        (
            "POST",
            "/api/v1/devices/regist".into(),
            vec![
                ("sn", json!("nas-y")),
                ("alias", json!("Y")),
                ("address", json!("127.0.0.9")),
                ("secret", json!("s")),
            ],
        ),
        (
            "POST",
            "/api/v1/groups".into(),
            vec![("name", json!("g-new"))],
        ),
        (
            "PATCH",
            "/api/v1/groups/staff".into(),
            vec![("control_policy", json!("slow"))],
        ),
        (
            "POST",
            "/api/v1/ip-table".into(),
            vec![("name", json!("10.7.0.1"))],
        ),
        (
            "PATCH",
            format!("/api/v1/ip-table/{ip_range}"),
            vec![("no_auth", json!(true))],
        ),
        (
            "POST",
            "/api/v1/kick".into(),
            vec![("user", json!("alice"))],
        ),
        (
            "POST",
            "/api/v1/package-plans".into(),
            vec![("name", json!("pk-new")), ("product", json!("campus"))],
        ),
        (
            "PATCH",
            "/api/v1/package-plans/pk".into(),
            vec![("price_fen", json!(9))],
        ),
        (
            "POST",
            "/api/v1/packages/buy".into(),
            vec![("user", json!("alice")), ("package", json!("pk"))],
        ),
        (
            "POST",
            "/api/v1/packages/remove".into(),
            vec![("user", json!("alice")), ("id", json!(1))],
        ),
        (
            "POST",
            "/api/v1/packages/reserve".into(),
            vec![("user", json!("alice")), ("package", json!("pk"))],
        ),
        (
            "POST",
            "/api/v1/pay".into(),
            vec![
                ("user", json!("alice")),
                ("amount_fen", json!(100)),
                ("to", Value::Null),
                ("note", Value::Null),
                ("reference", json!("R-array")),
            ],
        ),
        (
            "POST",
            "/api/v1/products".into(),
            vec![
                ("name", json!("p-new")),
                ("billing_policy", json!("free")),
                ("control_policy", json!("slow")),
            ],
        ),
        (
            "PATCH",
            "/api/v1/products/campus".into(),
            vec![("cycle_count", json!(2))],
        ),
        (
            "POST",
            "/api/v1/settle".into(),
            vec![("user", json!("alice"))],
        ),
        (
            "PATCH",
            "/api/v1/system".into(),
            vec![("auth_enabled", json!(false))],
        ),
        (
            "POST",
            "/api/v1/tokens".into(),
            vec![("name", json!("t-new")), ("role", json!("admin"))],
        ),
        (
            "POST",
            "/api/v1/users".into(),
            vec![("name", json!("bad5")), ("password", json!("p"))],
        ),
        (
            "PATCH",
            "/api/v1/users/alice".into(),
            vec![("enabled", json!(false))],
        ),
        (
            "POST",
            "/api/v1/users/alice/bind".into(),
            vec![
                ("kind", json!("mac")),
                ("value", json!("aa:bb:cc:dd:ee:09")),
            ],
        ),
        (
            "POST",
            "/api/v1/users/alice/group".into(),
            vec![("group", json!("staff"))],
        ),
        (
            "POST",
            "/api/v1/users/alice/password".into(),
            vec![("password", json!("new"))],
        ),
        (
            "POST",
            "/api/v1/users/alice/unbind".into(),
            vec![("kind", json!("vlan")), ("value", json!("7"))],
        ),
    ];

    // The table covers every operation the document says takes a JSON body.
    let (_, _, text) = common::http(
        "GET",
        &format!("http://{}/api/v1/openapi.json", d.api),
        None,
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut documented: Vec<String> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op["requestBody"]["content"]["application/json"].is_object() {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let mut walked: Vec<String> = routes
        .iter()
        .map(|(method, path, body)| {
            // The document's path: the table's with its last segments back to `{name}`.
            let parts: Vec<&str> = path.split('/').collect();
            let templated = doc["paths"]
                .as_object()
                .unwrap()
                .keys()
                .find(|p| {
                    let t: Vec<&str> = p.split('/').collect();
                    t.len() == parts.len()
                        && t.iter()
                            .zip(&parts)
                            .all(|(t, p)| t == p || t.starts_with('{'))
                })
                .unwrap_or_else(|| panic!("{path} is not in the document"));
            assert!(!body.is_empty());
            format!("{method} {templated}")
        })
        .collect();
    documented.sort();
    walked.sort();
    assert_eq!(walked, documented, "every JSON route is walked");

    let before = snapshot(&api, &doc);
    for (method, path, fields) in &routes {
        let object: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{v}", json!(k)))
            .collect();
        let values: Vec<String> = fields.iter().map(|(_, v)| v.to_string()).collect();
        let bad = [
            (format!("[{}]", values.join(",")), "not an array"),
            ("\"alice\"".to_string(), "not a string"),
            (
                format!("{{{},{}}}", object[0], object.join(",")),
                "given twice",
            ),
        ];
        let registry = path.starts_with("/api/v1/devices/");
        for (body, why) in bad {
            let reply = api
                .send(method, path, Some(("application/json", body.as_bytes())))
                .unwrap();
            let code = match (registry, why) {
                (false, _) => 5991,
                (true, "given twice") => 1,
                (true, _) => 7010,
            };
            expect(&reply, 400, code);
            let msg = reply.body["msg"].as_str().unwrap();
            assert!(msg.contains(why), "{method} {path} {body}: {msg}");
        }
    }
    let after = snapshot(&api, &doc);
    for ((path, was), (_, is)) in before.iter().zip(&after) {
        assert_eq!(was, is, "{path} changed");
    }
}
