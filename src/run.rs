//! [`run`]: `lambda_runtime::run` with tracing on.

use std::fmt;

use futures_core::Stream;
use lambda_runtime::{Diagnostic, Error, IntoFunctionResponse, LambdaEvent, Runtime, Service};
use serde::{Deserialize, Serialize};
use tower::Layer;

use crate::TraceLayer;
use crate::config::FlushMode;

/// Starts the Lambda runtime with `handler` wrapped in [`TraceLayer::from_env`]: what
/// `lambda_runtime::run` does, with every invocation traced. With
/// `LAMBDA_TRACE_FLUSH_MODE=after-response` it also installs the
/// [`AfterResponseLayer`](crate::layer::AfterResponseLayer).
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
    match tracing.flush_mode() {
        FlushMode::AfterResponse => {
            let flush = tracing.after_response_layer();
            Runtime::new(tracing.layer(handler))
                .layer(lambda_runtime::layers::TracingLayer::new())
                .layer(flush)
                .run()
                .await
        }
        _ => lambda_runtime::run(tracing.layer(handler)).await,
    }
}
