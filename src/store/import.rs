//! Bulk user import from CSV lines `username,password`.
//!
//! The whole file is checked before anything is written, so a bad line is reported by
//! number and nothing is half-imported.

use std::collections::HashMap;
use thiserror::Error;

/// A line that cannot be imported.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("line {line}: {reason}")]
pub struct ImportError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// One parsed line.
#[derive(Debug, PartialEq, Eq)]
pub struct ImportRow<'a> {
    /// 1-based line number.
    pub line: usize,
    /// User name.
    pub name: &'a str,
    /// Password (everything after the first comma, so it may contain commas).
    pub password: &'a str,
}

/// Longest password a RADIUS User-Password can carry.
pub const MAX_PASSWORD_LEN: usize = 128;
/// Longest user name a RADIUS User-Name can carry.
pub const MAX_NAME_LEN: usize = 253;

/// Checks a user name: 1–253 bytes, no control characters, no surrounding spaces.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("user name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("user name longer than {MAX_NAME_LEN} bytes"));
    }
    if name.trim() != name || name.chars().any(char::is_control) {
        return Err(format!(
            "user name {name:?} has spaces around it or control characters"
        ));
    }
    Ok(())
}

/// Checks a password: 1–128 bytes.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.is_empty() {
        return Err("password is empty".into());
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!("password longer than {MAX_PASSWORD_LEN} bytes"));
    }
    Ok(())
}

/// Parses the file. Blank lines and a first line `username,password` are skipped.
pub fn parse(text: &str) -> Result<Vec<ImportRow<'_>>, ImportError> {
    let mut rows = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() || (line == 1 && raw.trim() == "username,password") {
            continue;
        }
        let err = |reason: String| ImportError { line, reason };
        let (name, password) = raw
            .split_once(',')
            .ok_or_else(|| err("expected `username,password`".into()))?;
        let name = name.trim();
        check_name(name).map_err(err)?;
        check_password(password).map_err(err)?;
        if let Some(first) = seen.insert(name, line) {
            return Err(err(format!(
                "user {name:?} already appears on line {first}"
            )));
        }
        rows.push(ImportRow {
            line,
            name,
            password,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_bad_lines() {
        let rows = parse("username,password\nalice,a,b\r\n\nbob,pw\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].password, "a,b");
        assert_eq!(rows[1].line, 4);
        assert_eq!(parse("a,1\nnocomma\n").unwrap_err().line, 2);
        assert_eq!(parse("a,1\nb,\n").unwrap_err().line, 2);
        assert_eq!(parse("a,1\nb,2\na,3\n").unwrap_err().line, 3);
        assert_eq!(parse(",x\n").unwrap_err().line, 1);
    }
}
