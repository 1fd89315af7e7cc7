//! The login page and its static files, shipped inside the binary (campus networks block
//! every other site before login, so nothing comes from a CDN).
//!
//! The page carries what login scripts scrape from it — the client address as
//! `id="user_ip" value="…"` and as `ip : "…"` in a `CONFIG` object, and the `ac_id`
//! input — and a form whose script (`srun.js`, `portal.js`) speaks the same `/cgi-bin`
//! API as the scripts do. Refusals are shown from `codes.js`, generated from the code
//! catalog so that the page and the server never disagree on a text.

use std::net::IpAddr;
use std::sync::LazyLock;

use crate::codes::{ECode, Lang};

const LOGIN_HTML: &str = include_str!("assets/login.html");

/// The page for a client at `ip` on access point `ac_id` (both already validated: an IP
/// literal and a configured `[A-Za-z0-9_-]+` name), in `lang` until the user switches.
pub fn render(ip: IpAddr, ac_id: &str, lang: Lang) -> String {
    let lang = match lang {
        Lang::Zh => "zh",
        Lang::En => "en",
    };
    LOGIN_HTML
        .replace("{ip}", &ip.to_string())
        .replace("{ac_id}", ac_id)
        .replace("{lang}", lang)
}

/// A static file of the page by name: its content type and body.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    const JS: &str = "text/javascript; charset=utf-8";
    match name {
        "portal.css" => Some(("text/css; charset=utf-8", include_str!("assets/portal.css"))),
        "portal.js" => Some((JS, include_str!("assets/portal.js"))),
        "srun.js" => Some((JS, include_str!("assets/srun.js"))),
        "codes.js" => Some((JS, CODES_JS.as_str())),
        _ => None,
    }
}

/// `codes.js`: every code's Chinese and English text, as
/// `window.TURNSTILE_CODES = {CODE: [Chinese, English], …};`, keyed as `E2553`.
static CODES_JS: LazyLock<String> = LazyLock::new(codes_js);

fn codes_js() -> String {
    let table: serde_json::Map<String, serde_json::Value> = ECode::ALL
        .iter()
        .map(|c| (c.to_string(), serde_json::json!([c.zh(), c.en()])))
        .collect();
    format!(
        "window.TURNSTILE_CODES = {};\n",
        serde_json::Value::Object(table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_carries_what_scripts_scrape() {
        let page = render("10.1.2.3".parse().unwrap(), "7", Lang::Zh);
        // coffeehat, jxnu; BitSrunLoginGo; bitsrun.sh.
        assert!(page.contains(r#"id="user_ip" value="10.1.2.3""#));
        assert!(page.contains(r#"ip : "10.1.2.3""#));
        assert!(page.contains(r#"id="ac_id" name="ac_id" value="7""#));
        assert!(page.contains(r#"<html lang="zh">"#));
        assert!(!page.contains("{ip}") && !page.contains("{ac_id}"));
        for src in ["/static/portal.css", "/static/codes.js", "/static/srun.js"] {
            assert!(page.contains(src), "{src}");
        }
    }

    #[test]
    fn codes_come_from_the_catalog() {
        let (_, js) = asset("codes.js").unwrap();
        let json = js
            .strip_prefix("window.TURNSTILE_CODES = ")
            .and_then(|s| s.strip_suffix(";\n"))
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let code = ECode::WrongPassword;
        assert_eq!(v[code.to_string()][0], code.zh());
        assert_eq!(v[code.to_string()][1], code.en());
        assert_eq!(v.as_object().unwrap().len(), ECode::ALL.len());
        assert!(asset("srun.js").is_some() && asset("../Cargo.toml").is_none());
    }
}
