//! Any datagram from a known NAS on the authentication port, through the whole
//! Access-Request path up to the reply: a directory with one user and the starter
//! catalog, the policy, the throttle. Every datagram is answered or dropped with a
//! reason; an answer is signed with the NAS's secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};
use turnstile::billing::meter::Meter;
use turnstile::config::Settings;
use turnstile::directory::Directory;
use turnstile::radius::access::handle;
use turnstile::radius::crypto::verify_response;
use turnstile::radius::server::AuthContext;
use turnstile::session::online::OnlineTable;
use turnstile::store::Backend;

const SECRET: &str = "fuzz-secret";

fn context() -> &'static AuthContext {
    static CONTEXT: OnceLock<AuthContext> = OnceLock::new();
    CONTEXT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("turnstile-fuzz-access-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let config = dir.join("turnstile.toml");
        std::fs::write(
            &config,
            format!(
                "[general]\ndata_dir = {data:?}\n\
                 [radius]\nreply_cache_max_entries = 1000\n\
                 [[radius.clients]]\nname = \"fuzz\"\naddress = \"127.0.0.1\"\nsecret = \"{SECRET}\"\n\
                 [[bootstrap.users]]\nname = \"alice\"\npassword = \"wonderland\"\n",
                data = dir.join("data"),
            ),
        )
        .expect("a writable temporary directory");
        let settings = Settings::load(&config).expect("the fuzz configuration");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let directory = runtime.block_on(async {
            let backend = Backend::open(&settings.store_options().expect("store options"))
                .await
                .expect("a store");
            turnstile::daemon::seed(&backend, &settings).await.expect("the seed");
            Directory::load(backend, settings.radius.clients.clone())
                .await
                .expect("the directory")
        });
        // Lockouts would be stored by the daemon; here they are dropped.
        let (lockouts, receiver) = tokio::sync::mpsc::unbounded_channel();
        std::mem::forget(receiver);
        AuthContext::new(
            &settings,
            Arc::new(directory),
            Arc::new(OnlineTable::default()),
            Arc::new(Meter::default()),
            lockouts,
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let ctx = context();
    let clients = ctx.directory.clients();
    let source = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let client = clients.lookup(source).expect("the fuzz NAS").clone();
    if let Ok(reply) = handle(data, &client, source, ctx) {
        let authenticator: [u8; 16] = data[4..20].try_into().expect("a parsed header");
        assert!(verify_response(
            &reply.bytes,
            &authenticator,
            SECRET.as_bytes()
        ));
    }
});
