//! X-Ray's OTLP endpoint (feature `xray-otlp`): the same OTLP/HTTP request, sent to
//! `https://xray.<region>.amazonaws.com/v1/traces` and signed with SigV4 for the service `xray`
//! by `aws-sigv4`, the signer the AWS SDKs use.
//!
//! X-Ray reads the request its own way (see the `Xray` dialect of the OTLP model): each span
//! lists its annotation keys in `aws.xray.annotations`, so X-Ray indexes them as annotations;
//! under Active tracing the invocation span is sent as `INTERNAL` under Lambda's function
//! segment, so the function is one node of the trace, as with the daemon.
//!
//! Credentials are read when each request is signed, so rotated credentials are picked up:
//! from the function's environment ([`XrayCredentials::Environment`], as Lambda sets them) or
//! given ([`XrayCredentials::Static`]). They never reach a log line, a span or `Debug` output.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::header::{HOST, HeaderName, HeaderValue};

use super::OtlpExporter;
use super::client::Sign;
use crate::error::ExportError;
use crate::otlp::model::Dialect;

/// The service name X-Ray's endpoint is signed for.
const SERVICE: &str = "xray";

/// X-Ray's OTLP traces endpoint in `region`.
///
/// ```
/// assert_eq!(
///     lambda_trace::export::otlp::xray_endpoint("eu-west-1"),
///     "https://xray.eu-west-1.amazonaws.com/v1/traces"
/// );
/// ```
pub fn xray_endpoint(region: &str) -> String {
    format!("https://xray.{region}.amazonaws.com/v1/traces")
}

/// The region of an X-Ray endpoint host (`xray.eu-west-1.amazonaws.com` → `eu-west-1`).
pub(crate) fn region_of_host(host: &str) -> Option<&str> {
    let region = host.strip_prefix("xray.")?.strip_suffix(".amazonaws.com")?;
    let valid = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then_some(region)
}

/// Where the signing credentials come from.
#[derive(Clone)]
#[non_exhaustive]
pub enum XrayCredentials {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, read for every
    /// request (Lambda sets them for the function's execution role).
    Environment,
    /// These credentials.
    Static {
        /// The access key id.
        access_key_id: String,
        /// The secret access key.
        secret_access_key: String,
        /// The session token of temporary credentials.
        session_token: Option<String>,
    },
}

impl XrayCredentials {
    /// Whether credentials are there to sign with (an access key id and a secret key).
    pub fn available(&self) -> bool {
        self.load().is_some()
    }

    fn load(&self) -> Option<Credentials> {
        let (id, secret, token) = match self {
            // The one place outside `config` that reads the environment: credentials must be
            // read when used, not once at start.
            Self::Environment => (
                std::env::var("AWS_ACCESS_KEY_ID").ok()?,
                std::env::var("AWS_SECRET_ACCESS_KEY").ok()?,
                std::env::var("AWS_SESSION_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty()),
            ),
            Self::Static {
                access_key_id,
                secret_access_key,
                session_token,
            } => (
                access_key_id.clone(),
                secret_access_key.clone(),
                session_token.clone(),
            ),
        };
        if id.is_empty() || secret.is_empty() {
            return None;
        }
        Some(Credentials::new(id, secret, token, None, "lambda-trace"))
    }
}

/// Names the source only: never a key, a secret or a token.
impl fmt::Debug for XrayCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment => f.write_str("Environment"),
            Self::Static { .. } => f.write_str("Static(..)"),
        }
    }
}

impl OtlpExporter {
    /// An exporter for X-Ray's OTLP endpoint in `region` ([`xray_endpoint`]), signed with the
    /// function's credentials ([`XrayCredentials::Environment`]). Needs Transaction Search on
    /// the account and `xray:PutTraceSegments` (and `xray:PutSpans`) for the function's role.
    ///
    /// ```
    /// use lambda_trace::export::OtlpExporter;
    ///
    /// let exporter = OtlpExporter::xray("eu-west-1")?;
    /// assert_eq!(exporter.endpoint().host(), Some("xray.eu-west-1.amazonaws.com"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn xray(region: &str) -> io::Result<Self> {
        Ok(Self::new(&xray_endpoint(region))?.with_sigv4(region, XrayCredentials::Environment))
    }

    /// Signs every request with SigV4 for the service `xray` in `region`, and writes the
    /// request as X-Ray reads it (annotation keys in `aws.xray.annotations`; the invocation span
    /// under Lambda's segment as a subsegment). For X-Ray's endpoint at another address (a VPC
    /// endpoint, a test receiver).
    pub fn with_sigv4(mut self, region: &str, credentials: XrayCredentials) -> Self {
        let signer = Signer {
            region: region.to_string(),
            credentials,
        };
        let sign: Sign = Arc::new(move |request, body| signer.sign(request, body));
        self.client.set_sign(sign);
        self.dialect = Dialect::Xray;
        self
    }
}

struct Signer {
    region: String,
    credentials: XrayCredentials,
}

impl Signer {
    fn sign(
        &self,
        request: &mut http::Request<http_body_util::Full<bytes::Bytes>>,
        body: &[u8],
    ) -> Result<(), ExportError> {
        let failed = |what: &str| ExportError::Other(format!("SigV4 signing failed: {what}"));
        let credentials = self
            .credentials
            .load()
            .ok_or_else(|| failed("no AWS credentials"))?;
        if !request.headers().contains_key(HOST) {
            let host = request.uri().authority().map(|a| a.as_str().to_owned());
            if let Some(value) = host.and_then(|h| HeaderValue::try_from(h).ok()) {
                request.headers_mut().insert(HOST, value);
            }
        }
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|_| failed("incomplete parameters"))?
            .into();
        let uri = request.uri().to_string();
        let headers = request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        let signable = SignableRequest::new(
            request.method().as_str(),
            &uri,
            headers,
            SignableBody::Bytes(body),
        )
        // The error's text could quote a header; it is not passed on.
        .map_err(|_| failed("the request cannot be signed"))?;
        // `aws-sigv4` logs the canonical request at TRACE level, session token included: with
        // no subscriber for the call, no secret can reach a log through it.
        let signed = tracing::dispatcher::with_default(&tracing::Dispatch::none(), || {
            sign(signable, &params)
        });
        let (instructions, _signature) = signed
            .map_err(|_| failed("the request cannot be signed"))?
            .into_parts();
        let (headers, _params) = instructions.into_parts();
        for header in headers {
            let name = HeaderName::from_static(header.name());
            let mut value =
                HeaderValue::try_from(header.value()).map_err(|_| failed("header value"))?;
            value.set_sensitive(header.sensitive());
            request.headers_mut().insert(name, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_of_xray_hosts() {
        assert_eq!(
            region_of_host("xray.eu-west-1.amazonaws.com"),
            Some("eu-west-1")
        );
        assert_eq!(region_of_host("xray..amazonaws.com"), None);
        assert_eq!(region_of_host("api.honeycomb.io"), None);
        assert_eq!(region_of_host("xray.EU.amazonaws.com"), None);
        assert_eq!(region_of_host("xray.a/b.amazonaws.com"), None);
    }

    #[test]
    fn credentials_never_show() {
        let c = XrayCredentials::Static {
            access_key_id: "AKIDCANARY".into(),
            secret_access_key: "SECRETCANARY".into(),
            session_token: Some("TOKENCANARY".into()),
        };
        assert!(c.available());
        let shown = format!("{c:?}");
        assert!(!shown.contains("CANARY"), "{shown}");
        let e = OtlpExporter::new("https://127.0.0.1:1/v1/traces")
            .unwrap()
            .with_sigv4("us-east-1", c);
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("CANARY") && shown.contains("signed: true"),
            "{shown}"
        );
        let empty = XrayCredentials::Static {
            access_key_id: String::new(),
            secret_access_key: "x".into(),
            session_token: None,
        };
        assert!(!empty.available());
    }
}
