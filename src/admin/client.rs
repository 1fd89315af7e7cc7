//! A blocking client of the operator API, for the CLI, the tests and the bench tool.

use serde_json::Value;
use std::time::Duration;
use thiserror::Error;

/// Why a call failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The API cannot be reached.
    #[error("cannot reach the daemon's API at {url} (is it running?): {reason}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// Why.
        reason: String,
    },
    /// The reply is not the API's JSON envelope.
    #[error("malformed reply from the daemon (HTTP {status}): {body:?}")]
    Malformed {
        /// HTTP status.
        status: u16,
        /// The body as received.
        body: String,
    },
    /// The API refused the call.
    #[error("{msg}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The envelope's code.
        code: u64,
        /// The envelope's message.
        msg: String,
    },
}

/// A reply, whatever its status.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

/// The API at one address, with one token.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl ApiClient {
    /// A client of `base` (`http://127.0.0.1:9813`) using bearer `token`; calls give
    /// up after `timeout`.
    pub fn new(base: &str, token: &str, timeout: Duration) -> ApiClient {
        Self::with_roots(base, token, timeout, Vec::new())
    }

    /// A client of an `https://` `base` that trusts only `roots` (DER), such as the
    /// daemon's own certificate.
    pub fn with_roots(
        base: &str,
        token: &str,
        timeout: Duration,
        roots: Vec<Vec<u8>>,
    ) -> ApiClient {
        let roots = roots
            .into_iter()
            .map(|der| ureq::tls::Certificate::from_der(&der).to_owned())
            .collect();
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(super::tls::provider())
            .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(roots)))
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .tls_config(tls)
            .build()
            .into();
        ApiClient {
            base: base.trim_end_matches('/').to_string(),
            token: token.trim().to_string(),
            agent,
        }
    }

    /// The same API with another token.
    pub fn with_token(&self, token: &str) -> ApiClient {
        ApiClient {
            token: token.trim().to_string(),
            ..self.clone()
        }
    }

    /// Sends a request with an optional body of `content_type`; returns the reply
    /// whatever its status.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Reply, ClientError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |e: ureq::Error| ClientError::Unreachable {
            url: url.clone(),
            reason: e.to_string(),
        };
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", format!("Bearer {}", self.token));
        if let Some((content_type, _)) = body {
            request = request.header("Content-Type", content_type);
        }
        let request = request
            .body(body.map(|(_, b)| b.to_vec()).unwrap_or_default())
            .map_err(|e| unreachable(e.into()))?;
        let mut response = self.agent.run(request).map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(unreachable)?;
        let body = serde_json::from_str(&text).map_err(|_| ClientError::Malformed {
            status,
            body: text.clone(),
        })?;
        Ok(Reply { status, body })
    }

    /// Sends `json` (if any) and returns the reply whatever its status.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        json: Option<&Value>,
    ) -> Result<Reply, ClientError> {
        let bytes = json.map(|v| v.to_string().into_bytes());
        self.send(
            method,
            path,
            bytes.as_deref().map(|b| ("application/json", b)),
        )
    }

    /// Calls the API; the whole envelope when `code` is 0, else [`ClientError::Refused`].
    pub fn call(
        &self,
        method: &str,
        path: &str,
        json: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let reply = self.request(method, path, json)?;
        refused(reply)
    }
}

/// The envelope of a successful reply, or the refusal it carries.
pub fn refused(reply: Reply) -> Result<Value, ClientError> {
    match reply.body["code"].as_u64() {
        Some(0) => Ok(reply.body),
        Some(code) => Err(ClientError::Refused {
            status: reply.status,
            code,
            msg: reply.body["msg"].as_str().unwrap_or_default().to_string(),
        }),
        None => Err(ClientError::Malformed {
            status: reply.status,
            body: reply.body.to_string(),
        }),
    }
}
