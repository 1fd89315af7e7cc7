//! Authentication: does this request prove it knows the user's password, and may the
//! user get online? A pure function of the request and the user's entry: no sockets, no
//! database, so every refusal code is testable in microseconds.

pub mod credentials;

use crate::codes::ECode;
use crate::directory::UserEntry;
pub use credentials::Credentials;

/// The parts of an Access-Request (or portal login) that authentication looks at.
#[derive(Debug)]
pub struct AuthRequest<'a> {
    /// User-Name as sent.
    pub user_name: &'a str,
    /// The proof of the password.
    pub credentials: Credentials<'a>,
}

/// The outcome of authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let the user on (E0000).
    Accept,
    /// Refuse, naming why.
    Reject(ECode),
}

impl Decision {
    /// The code a log line or reply names.
    pub fn code(self) -> ECode {
        match self {
            Decision::Accept => ECode::LoginSuccess,
            Decision::Reject(code) => code,
        }
    }
}

/// Decides a request for `user` (None when no such user exists). Checks run in this
/// order: the user exists (E2531), the password is right (E2553), the account is
/// enabled (E2606).
pub fn authenticate(request: &AuthRequest<'_>, user: Option<&UserEntry>) -> Decision {
    let Some(user) = user else {
        return Decision::Reject(ECode::NoSuchUser);
    };
    if !request.credentials.verify(user.password.as_bytes()) {
        return Decision::Reject(ECode::WrongPassword);
    }
    if !user.enabled {
        return Decision::Reject(ECode::UserDisabled);
    }
    Decision::Accept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Password;

    fn user(enabled: bool) -> UserEntry {
        UserEntry {
            name: "alice".into(),
            password: Password::from(&b"pw"[..]),
            enabled,
        }
    }

    fn pap(pw: &[u8]) -> AuthRequest<'_> {
        AuthRequest {
            user_name: "alice",
            credentials: Credentials::Pap { password: pw },
        }
    }

    #[test]
    fn decisions_in_documented_order() {
        assert_eq!(
            authenticate(&pap(b"pw"), None),
            Decision::Reject(ECode::NoSuchUser)
        );
        assert_eq!(
            authenticate(&pap(b"no"), Some(&user(true))),
            Decision::Reject(ECode::WrongPassword)
        );
        // A disabled account is only revealed to someone who knows the password.
        assert_eq!(
            authenticate(&pap(b"no"), Some(&user(false))),
            Decision::Reject(ECode::WrongPassword)
        );
        assert_eq!(
            authenticate(&pap(b"pw"), Some(&user(false))),
            Decision::Reject(ECode::UserDisabled)
        );
        assert_eq!(
            authenticate(&pap(b"pw"), Some(&user(true))),
            Decision::Accept
        );
    }
}
