//! The portal's reply framing: compact JSON with keys in byte order, wrapped as
//! `NAME(` + JSON + `)` when the request names a callback — nothing before or after, since
//! clients cut the JSON out by position. Callback names are limited to
//! `[A-Za-z0-9_.$]+` so that a reply can never carry a script.

use serde_json::{Map, Value};

/// A reply body under construction; keys come out sorted (serde_json's map is ordered).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub Map<String, Value>);

impl Fields {
    /// Sets a field.
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> Fields {
        self.0.insert(key.to_string(), value.into());
        self
    }

    /// The compact JSON text.
    pub fn json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }
}

/// True for callback names a reply may echo.
pub fn callback_allowed(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$'))
}

/// `NAME(JSON)`.
pub fn wrap(callback: &str, json: &str) -> String {
    format!("{callback}({json})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_is_exact_and_sorted() {
        let f = Fields::default()
            .set("res", "ok")
            .set("ServerFlag", 0)
            .set("access_token", "t")
            .set("ecode", 0)
            .set("expire", "60");
        let body = wrap("jsonp", &f.json());
        assert_eq!(
            body,
            r#"jsonp({"ServerFlag":0,"access_token":"t","ecode":0,"expire":"60","res":"ok"})"#
        );
        // The way bitsrun cuts it out.
        assert_eq!(&body[6..body.len() - 1], f.json());
    }

    #[test]
    fn callback_names() {
        for ok in [
            "jsonp",
            "jQuery1124012345678901234567_1700000000000",
            "x",
            "_",
            "cb",
            "a.b$c",
        ] {
            assert!(callback_allowed(ok), "{ok}");
        }
        for bad in [
            "",
            "alert(1)//",
            "a b",
            "<script>",
            "x;y",
            "名字",
            &"a".repeat(129),
        ] {
            assert!(!callback_allowed(bad), "{bad}");
        }
    }
}
