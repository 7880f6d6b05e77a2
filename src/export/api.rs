//! [`XrayApiExporter`]: segment documents to the X-Ray `PutTraceSegments` API (feature
//! `xray-api`).
//!
//! For functions that cannot use the daemon: no Active tracing, a container image without the
//! daemon, or a test against a local emulator. Each export is one HTTPS round trip (more for very
//! large invocations), so it costs more time than the daemon's UDP send; the layer bounds it
//! with the flush deadline like any other export.
//!
//! How the client is built and what a failure looks like: see [`XrayApiExporter`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_xray::Client;
use aws_sdk_xray::error::DisplayErrorContext;
use aws_sdk_xray::types::UnprocessedTraceSegment;
use tokio::sync::OnceCell;
use tokio::task::JoinSet;

use super::{Export, ExportError, ExportFuture, Exporter};
use crate::span::SpanBatch;
use crate::xray::encode_batch;

/// Most documents one `PutTraceSegments` call carries (the X-Ray daemon's and the OpenTelemetry
/// collector's batch size; the service refuses larger batches). A batch with more documents is
/// sent in several calls, concurrently.
#[cfg_attr(docsrs, doc(cfg(feature = "xray-api")))]
pub const MAX_DOCUMENTS_PER_CALL: usize = 50;

/// Longest `message` of the [`ExportError::Rejected`] this exporter returns, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// Sends segment documents with the X-Ray `PutTraceSegments` API.
///
/// Region, credentials and endpoint come from the standard AWS environment (`AWS_REGION`,
/// `AWS_ACCESS_KEY_ID`/…, the Lambda role, `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_XRAY`). The
/// function's role needs `xray:PutTraceSegments`.
///
/// # The client is built once
/// The layer's builder is synchronous, while loading the AWS configuration (region, credentials,
/// endpoint) is `async`. So [`XrayApiExporter::from_env`] only *prepares* the exporter: the first
/// export loads the configuration with `aws-config`'s defaults inside its pending future and keeps
/// the client in a [`tokio::sync::OnceCell`]; every later export reuses it (and its connection
/// pool). Concurrent first exports wait for the same load, and an export dropped at its deadline
/// mid-load leaves the cell empty for the next one. When a configuration is at hand,
/// [`XrayApiExporter::with_config`] / [`XrayApiExporter::from_client`] build it at once.
/// Either way the first export also opens the HTTPS connection (TLS handshake): give
/// `LAMBDA_TRACE_FLUSH_TIMEOUT_MS` room for that on a cold start.
///
/// # What a failure looks like
/// `PutTraceSegments` answers with `UnprocessedTraceSegments` for documents it refused. Those
/// documents are sent once more (a throttled document often goes through on the second try);
/// what is still refused then comes back as [`ExportError::Rejected`] with the error codes in its
/// message. A transport or service error (no connection, bad credentials, throttled call) is
/// [`ExportError::Other`] with the SDK's error chain; the SDK's own retry policy applies to
/// calls, inside the layer's deadline.
///
/// ```no_run
/// use lambda_trace::TraceLayer;
/// use lambda_trace::export::XrayApiExporter;
///
/// // What `LAMBDA_TRACE_EXPORTER=xray-api` does:
/// let layer = TraceLayer::builder().exporter(XrayApiExporter::from_env()).build();
/// # let _ = layer;
/// ```
///
/// With an explicit configuration (a local emulator, another region):
///
/// ```no_run
/// # async fn example() {
/// use lambda_trace::export::XrayApiExporter;
///
/// let config = aws_config::from_env()
///     .endpoint_url("http://127.0.0.1:5000")
///     .load()
///     .await;
/// let exporter = XrayApiExporter::with_config(&config);
/// # let _ = exporter;
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "xray-api")))]
#[derive(Clone)]
pub struct XrayApiExporter {
    client: Arc<OnceCell<Client>>,
}

impl XrayApiExporter {
    /// An exporter whose client is built on the first export from `aws-config`'s defaults for
    /// the environment (see [above](XrayApiExporter#the-client-is-built-once) for why it is lazy).
    pub fn from_env() -> Self {
        Self {
            client: Arc::new(OnceCell::new()),
        }
    }

    /// An exporter with a client built now from `config` (with the crate's HTTPS client, rustls
    /// with `ring`, when `config` names none).
    pub fn with_config(config: &SdkConfig) -> Self {
        let mut builder = aws_sdk_xray::config::Builder::from(config);
        if config.http_client().is_none() {
            builder = builder.http_client(https_client());
        }
        Self::from_client(Client::from_conf(builder.build()))
    }

    /// An exporter using `client` (for a client with settings of its own: timeouts, retries,
    /// interceptors).
    pub fn from_client(client: Client) -> Self {
        Self {
            client: Arc::new(OnceCell::new_with(Some(client))),
        }
    }

    /// Sends already encoded segment documents (each a JSON object as X-Ray's segment document
    /// format describes) in as few `PutTraceSegments` calls as the API allows, retrying refused
    /// ones once. [`Exporter::export`] encodes a batch and calls this.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), lambda_trace::export::ExportError> {
    /// use lambda_trace::export::XrayApiExporter;
    ///
    /// let document = r#"{"name":"job","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449}"#;
    /// XrayApiExporter::from_env()
    ///     .send_documents(vec![document.to_string()])
    ///     .await
    /// # }
    /// ```
    pub fn send_documents(&self, documents: Vec<String>) -> ExportFuture {
        let cell = Arc::clone(&self.client);
        Box::pin(async move {
            if documents.is_empty() {
                return Ok(());
            }
            let client = cell
                .get_or_init(|| async {
                    let config = aws_config::defaults(BehaviorVersion::latest())
                        .http_client(https_client())
                        .load()
                        .await;
                    Client::new(&config)
                })
                .await;
            put_with_one_retry(client, documents).await
        })
    }
}

/// The SDK's HTTPS client on rustls with the `ring` provider: the TLS stack the OTLP exporter
/// uses, so a function with both features links one, not two (the SDK's default is
/// `aws-lc-rs`, 2 MB more and ~40 ms of entropy seeding on its first connection; see
/// `bench/tls-choice/README.md`).
pub(crate) fn https_client() -> aws_sdk_xray::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

impl fmt::Debug for XrayApiExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.client.initialized() {
            "ready"
        } else {
            "loads on first export"
        };
        f.debug_struct("XrayApiExporter")
            .field("client", &state)
            .finish()
    }
}

impl Exporter for XrayApiExporter {
    fn export(&self, batch: SpanBatch) -> Export {
        let mut encoded = Vec::new();
        encode_batch(&batch, &mut encoded);
        if encoded.is_empty() {
            return Export::Done(Ok(()));
        }
        // serde_json writes UTF-8; the lossy path is never taken.
        let documents = encoded
            .into_iter()
            .map(|d| String::from_utf8(d).unwrap_or_else(|e| lossy(e.as_bytes())))
            .collect();
        Export::Pending(self.send_documents(documents))
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sends `documents`; sends the refused ones again, once; reports what is still refused.
async fn put_with_one_retry(client: &Client, documents: Vec<String>) -> Result<(), ExportError> {
    let total = documents.len();
    let first = put_all(client, documents).await?;
    if first.refused.is_empty() {
        return Ok(());
    }
    let (retry, mut unmatched) = match_documents(first.documents, &first.refused);
    let mut refused = if retry.is_empty() {
        Vec::new()
    } else {
        match put_all(client, retry).await {
            Ok(second) => second.refused,
            Err(e) => {
                let n = first.refused.len().min(total);
                return Err(rejected(n, total, &first.refused, Some(&e.to_string())));
            }
        }
    };
    refused.append(&mut unmatched);
    if refused.is_empty() {
        return Ok(());
    }
    Err(rejected(refused.len().min(total), total, &refused, None))
}

/// The outcome of one round of calls: every document sent, and what the service refused.
struct Round {
    documents: Vec<String>,
    refused: Vec<UnprocessedTraceSegment>,
}

/// Sends `documents` in calls of at most [`MAX_DOCUMENTS_PER_CALL`], concurrently when there is
/// more than one call. A call that fails as a whole fails the round.
async fn put_all(client: &Client, documents: Vec<String>) -> Result<Round, ExportError> {
    if documents.len() <= MAX_DOCUMENTS_PER_CALL {
        let refused = put(client.clone(), documents.clone()).await?;
        return Ok(Round { documents, refused });
    }
    let mut calls = JoinSet::new();
    for chunk in documents.chunks(MAX_DOCUMENTS_PER_CALL) {
        calls.spawn(put(client.clone(), chunk.to_vec()));
    }
    let count = calls.len();
    let mut refused = Vec::new();
    let mut failures = Vec::new();
    while let Some(joined) = calls.join_next().await {
        match joined {
            Ok(Ok(mut r)) => refused.append(&mut r),
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(ExportError::Other(format!("PutTraceSegments task: {e}"))),
        }
    }
    match failures.len() {
        0 => Ok(Round { documents, refused }),
        n => Err(ExportError::Other(format!(
            "{n} of {count} PutTraceSegments calls failed; first: {}",
            first_message(&failures[0])
        ))),
    }
}

fn first_message(e: &ExportError) -> String {
    match e {
        ExportError::Other(m) => m.clone(),
        other => other.to_string(),
    }
}

/// One `PutTraceSegments` call; its refused documents.
async fn put(
    client: Client,
    documents: Vec<String>,
) -> Result<Vec<UnprocessedTraceSegment>, ExportError> {
    let output = client
        .put_trace_segments()
        .set_trace_segment_documents(Some(documents))
        .send()
        .await
        .map_err(|e| {
            ExportError::Other(format!("PutTraceSegments: {}", DisplayErrorContext(&e)))
        })?;
    Ok(output.unprocessed_trace_segments.unwrap_or_default())
}

/// Splits the refused entries into the documents they name (to send again) and the entries
/// that name no document of `documents` (no id, or an id not found: reported, not retried).
fn match_documents(
    documents: Vec<String>,
    refused: &[UnprocessedTraceSegment],
) -> (Vec<String>, Vec<UnprocessedTraceSegment>) {
    let mut wanted: BTreeMap<&str, usize> = BTreeMap::new();
    for r in refused {
        if let Some(id) = r.id() {
            *wanted.entry(id).or_default() += 1;
        }
    }
    let mut retry = Vec::new();
    for doc in documents {
        if wanted.is_empty() {
            break;
        }
        if let Some(id) = document_id(&doc)
            && let Some(n) = wanted.get_mut(id.as_ref())
        {
            *n -= 1;
            if *n == 0 {
                wanted.remove(id.as_ref());
            }
            retry.push(doc);
        }
    }
    let mut found: BTreeMap<&str, usize> = BTreeMap::new();
    let unmatched = refused
        .iter()
        .filter(|r| match r.id() {
            None => true,
            Some(id) => {
                // The first `missing` entries with this id found no document.
                let missing = wanted.get(id).copied().unwrap_or(0);
                let seen = found.entry(id).or_default();
                *seen += 1;
                *seen <= missing
            }
        })
        .cloned()
        .collect();
    (retry, unmatched)
}

/// The top-level `id` of a document, when it is a JSON object with one.
fn document_id(document: &str) -> Option<Cow<'_, str>> {
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        id: Option<Cow<'a, str>>,
    }
    serde_json::from_str::<Id<'_>>(document).ok()?.id
}

/// [`ExportError::Rejected`] naming each error code once, with its count and first message.
fn rejected(
    rejected: usize,
    total: usize,
    reasons: &[UnprocessedTraceSegment],
    retry_error: Option<&str>,
) -> ExportError {
    let mut codes: Vec<(&str, usize, Option<&str>)> = Vec::new();
    for r in reasons {
        let code = r.error_code().unwrap_or("unknown error");
        match codes.iter_mut().find(|(c, ..)| *c == code) {
            Some((_, n, _)) => *n += 1,
            None => codes.push((code, 1, r.message().filter(|m| !m.is_empty()))),
        }
    }
    let mut message = codes
        .iter()
        .map(|(code, n, first)| {
            let count = if *n > 1 {
                format!(" x{n}")
            } else {
                String::new()
            };
            match first {
                Some(m) => format!("{code}{count} ({m})"),
                None => format!("{code}{count}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(e) = retry_error {
        message.push_str("; the retry failed: ");
        message.push_str(e);
    }
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
    ExportError::Rejected {
        rejected,
        total,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(id: Option<&str>, code: &str, message: &str) -> UnprocessedTraceSegment {
        UnprocessedTraceSegment::builder()
            .set_id(id.map(str::to_string))
            .error_code(code)
            .message(message)
            .build()
    }

    fn doc(id: &str) -> String {
        format!(r#"{{"name":"n","id":"{id}","subsegments":[{{"id":"ffffffffffffffff"}}]}}"#)
    }

    #[test]
    fn refused_entries_pick_their_documents() {
        let docs = vec![doc("0000000000000001"), doc("0000000000000002"), "{".into()];
        let r = [
            refused(Some("0000000000000002"), "InvalidSegment", "bad"),
            refused(
                Some("ffffffffffffffff"),
                "InvalidSegment",
                "nested ids are not documents",
            ),
            refused(None, "InvalidJson", "no id"),
        ];
        let (retry, unmatched) = match_documents(docs, &r);
        assert_eq!(retry, vec![doc("0000000000000002")]);
        let codes: Vec<_> = unmatched.iter().map(|u| u.message().unwrap()).collect();
        assert_eq!(codes, ["nested ids are not documents", "no id"]);
    }

    #[test]
    fn rejected_message_lists_each_code_once() {
        let r = [
            refused(Some("a"), "InvalidSegment", "first"),
            refused(Some("b"), "InvalidSegment", "second"),
            refused(Some("c"), "Throttled", ""),
        ];
        let e = rejected(3, 4, &r, None);
        assert_eq!(
            e.to_string(),
            "backend rejected 3 of 4 documents: InvalidSegment x2 (first), Throttled"
        );
        let long = [refused(None, &"E".repeat(1000), "m")];
        let ExportError::Rejected { message, .. } = rejected(1, 1, &long, None) else {
            unreachable!()
        };
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn document_ids() {
        assert_eq!(
            document_id(&doc("0000000000000001")).as_deref(),
            Some("0000000000000001")
        );
        assert_eq!(document_id("[1]"), None);
        assert_eq!(document_id(r#"{"name":"x"}"#), None);
        assert_eq!(document_id("not json"), None);
    }

    #[test]
    fn debug_says_when_the_client_loads() {
        assert_eq!(
            format!("{:?}", XrayApiExporter::from_env()),
            "XrayApiExporter { client: \"loads on first export\" }"
        );
    }
}
