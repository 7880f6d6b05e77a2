//! [`run`]: `lambda_runtime::run` with tracing on.

use std::fmt;

use futures_core::Stream;
use lambda_runtime::{Diagnostic, Error, IntoFunctionResponse, LambdaEvent, Runtime, Service};
use serde::{Deserialize, Serialize};
use tower::Layer;

use crate::layer::TraceLayer;

/// Starts the Lambda runtime with `handler` wrapped in [`TraceLayer::from_env`]: what
/// `lambda_runtime::run` does, with every invocation traced. It also installs the
/// [`AfterResponseLayer`](crate::layer::AfterResponseLayer) around the runtime: the
/// after-response flush mode (`LAMBDA_TRACE_FLUSH_MODE=after-response`), and an event that
/// does not deserialize into `A` (which `lambda_runtime` answers with an error before the
/// handler's layer sees it) recorded as a fault invocation span.
///
/// ```no_run
/// use lambda_runtime::{service_fn, Error, LambdaEvent};
/// use serde_json::Value;
///
/// #[tokio::main]
/// async fn main() -> Result<(), Error> {
///     lambda_trace::run(service_fn(|event: LambdaEvent<Value>| async move {
///         Ok::<_, Error>(event.payload)
///     }))
///     .await
/// }
/// ```
pub async fn run<A, F, R, B, S, D, E>(handler: F) -> Result<(), Error>
where
    F: Service<LambdaEvent<A>, Response = R>,
    F::Future: Future<Output = Result<R, F::Error>>,
    F::Error: Into<Diagnostic> + fmt::Debug + 'static,
    A: for<'de> Deserialize<'de> + 'static,
    R: IntoFunctionResponse<B, S> + 'static,
    B: Serialize,
    S: Stream<Item = Result<D, E>> + Unpin + Send + 'static,
    D: Into<bytes::Bytes> + Send,
    E: Into<Error> + Send + fmt::Debug,
{
    let tracing = TraceLayer::from_env();
    // One runtime stack whatever the flush mode: `lambda_runtime::run` is this stack without the
    // after-response layer, which passes the invocation through untouched unless the mode is
    // after-response. So the runtime, generic over the whole stack, is compiled once, not once
    // per mode (issue 6: binary size).
    let flush = tracing
        .after_response_layer()
        .recording_rejected_events::<A>();
    Runtime::new(tracing.layer(handler))
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(flush)
        .run()
        .await
}

/// [`run`] for `lambda_runtime`'s concurrent mode: with `AWS_LAMBDA_MAX_CONCURRENCY` above 1
/// (Lambda Managed Instances), several invocations run at once in this process, each with its own
/// invocation span, current span and flush. Without it, the same as [`run`].
///
/// ```no_run
/// use lambda_runtime::{service_fn, Error, LambdaEvent};
/// use serde_json::Value;
///
/// #[tokio::main]
/// async fn main() -> Result<(), Error> {
///     lambda_trace::run_concurrent(service_fn(|event: LambdaEvent<Value>| async move {
///         Ok::<_, Error>(event.payload)
///     }))
///     .await
/// }
/// ```
#[cfg(feature = "concurrency-tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "concurrency-tokio")))]
pub async fn run_concurrent<A, F, R, B, S, D, E>(handler: F) -> Result<(), Error>
where
    F: Service<LambdaEvent<A>, Response = R> + Clone + Send + 'static,
    F::Future: Future<Output = Result<R, F::Error>> + Send + 'static,
    F::Error: Into<Diagnostic> + fmt::Debug + Send + 'static,
    A: for<'de> Deserialize<'de> + Send + 'static,
    R: IntoFunctionResponse<B, S> + Send + 'static,
    B: Serialize + Send + 'static,
    S: Stream<Item = Result<D, E>> + Unpin + Send + 'static,
    D: Into<bytes::Bytes> + Send + 'static,
    E: Into<Error> + Send + fmt::Debug + 'static,
{
    let tracing = TraceLayer::from_env();
    // One runtime stack whatever the flush mode, as in `run`.
    let flush = tracing.after_response_layer();
    Runtime::new(tracing.layer(handler))
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(flush)
        .run_concurrent()
        .await
}
