//! The Class attribute of an Access-Accept: the NAS echoes it in every Accounting-Request
//! of the session (RFC 2865 §5.25), which ties usage back to the user and the product
//! instance it is charged to.

/// Prefix and version of the Class layout `ts1:PRODUCT:USER`.
const PREFIX: &str = "ts1:";

/// Who a session belongs to and what it is charged to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClass {
    /// Product instance.
    pub product: String,
    /// User name.
    pub user: String,
}

impl SessionClass {
    /// The attribute's value. Product names contain no ':'; the user name goes last, so
    /// it may contain anything. None when it would not fit in one attribute.
    pub fn encode(product: &str, user: &str) -> Option<Vec<u8>> {
        let value = format!("{PREFIX}{product}:{user}");
        (value.len() <= 253).then(|| value.into_bytes())
    }

    /// Reads a Class value written by [`SessionClass::encode`]; None for anything else.
    pub fn decode(value: &[u8]) -> Option<SessionClass> {
        let text = std::str::from_utf8(value).ok()?.strip_prefix(PREFIX)?;
        let (product, user) = text.split_once(':')?;
        Some(SessionClass {
            product: product.to_string(),
            user: user.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let v = SessionClass::encode("campus-20", "alice:x@dorm").unwrap();
        assert_eq!(v, b"ts1:campus-20:alice:x@dorm");
        assert_eq!(
            SessionClass::decode(&v),
            Some(SessionClass {
                product: "campus-20".into(),
                user: "alice:x@dorm".into()
            })
        );
        assert_eq!(SessionClass::decode(b"other"), None);
        assert_eq!(SessionClass::encode("p", &"u".repeat(250)), None);
    }
}
