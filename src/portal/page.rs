//! The page at the portal's page URL. It carries what login scripts scrape from it: the
//! client address as `id="user_ip" value="…"` and as `ip : "…"` in a `CONFIG` object, and
//! the `ac_id` input. (The interactive login form is not built yet.)

use std::net::IpAddr;

/// The page for a client at `ip` on access point `ac_id`.
pub fn render(ip: IpAddr, ac_id: &str) -> String {
    // Both values are an IP literal and a configured ac_id: nothing to escape.
    format!(
        r#"<!DOCTYPE html>
<html lang="zh">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>turnstile</title>
<script>var CONFIG = {{ ip : "{ip}", ac_id : "{ac_id}" }};</script>
</head>
<body>
<input type="hidden" id="user_ip" value="{ip}">
<input type="hidden" id="ac_id" name="ac_id" value="{ac_id}">
</body>
</html>
"#
    )
}
