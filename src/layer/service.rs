//! [`TraceService`]: opens the invocation span and hands the handler's future to [`TraceFuture`].

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use lambda_runtime::LambdaEvent;
use tower::Service;

use super::future::{Invocation, TraceFuture};
use super::{Shared, parent};
use crate::carrier::{self, RequestInfo};
use crate::propagation::Propagator;
use crate::span::recorder::Recorder;
use crate::span::{self, AnnotationValue, AttributeValue, Span, SpanKind};

/// The service a [`TraceLayer`](super::TraceLayer) produces.
#[derive(Clone)]
pub struct TraceService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> TraceService<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for TraceService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, E, R> Service<LambdaEvent<E>> for TraceService<S>
where
    S: Service<LambdaEvent<E>, Response = R>,
    S::Error: fmt::Debug + 'static,
    E: 'static,
    R: 'static,
{
    type Response = R;
    type Error = S::Error;
    type Future = TraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<E>) -> Self::Future {
        if self.shared.disabled {
            return TraceFuture::passthrough(self.inner.call(event));
        }
        let invocation = start(&self.shared, &event);
        let root = invocation.root.clone();
        let called = span::sync_scope(root.clone(), || {
            catch_unwind(AssertUnwindSafe(|| self.inner.call(event)))
        });
        match called {
            Ok(future) => TraceFuture::new(span::scope(root, future), invocation),
            Err(panic) => TraceFuture::panicked(panic, invocation),
        }
    }
}

/// Chooses the parent, opens the invocation span and records what is known before the handler.
fn start<E: 'static>(shared: &Arc<Shared>, event: &LambdaEvent<E>) -> Invocation {
    let settings = &shared.settings;
    let payload: &dyn Any = &event.payload;
    let carrier = carrier::from_event(payload);
    let from_event = carrier.and_then(|c| settings.propagator.extract(c));
    let parent = parent::decide(
        event.context.xray_trace_id.as_deref(),
        from_event,
        shared.sample_rate,
    );
    let recording = parent.context.sampling.is_sampled();
    let cold_start = shared.cold_start.swap(false, Ordering::Relaxed);
    let recorder = Arc::new(Recorder::new(
        Arc::clone(settings),
        parent.context.clone(),
        recording,
    ));

    let ctx = &event.context;
    let resource = &settings.resource;
    let function_name: &str = match ctx.env_config.function_name.as_str() {
        "" => &resource.function_name,
        name => name,
    };
    let info = if recording {
        carrier.map(|c| c.request_info()).unwrap_or_default()
    } else {
        RequestInfo::default()
    };
    let route = info.http.as_ref().and_then(|h| h.route.clone());
    let name = match (&route, shared.route_as_name) {
        (Some(route), true) => route.clone(),
        _ if function_name.is_empty() => resource.service_name.clone(),
        _ => function_name.to_string(),
    };
    let root = Span::start_in(
        Arc::clone(&recorder),
        parent.context.span_id,
        name,
        SpanKind::Server,
    );

    if recording {
        root.annotate("ColdStart", cold_start);
        root.annotate(
            "Service",
            AnnotationValue::String(resource.service_name.clone()),
        );
        let s = |v: &str| AttributeValue::String(Cow::Owned(v.to_string()));
        root.set_attribute(("faas.invocation_id".into(), s(&ctx.request_id)));
        root.set_attribute(("faas.coldstart".into(), AttributeValue::Bool(cold_start)));
        root.set_attribute((
            "faas.trigger".into(),
            AttributeValue::String(info.trigger.as_str().into()),
        ));
        root.set_attribute((
            "cloud.provider".into(),
            AttributeValue::String("aws".into()),
        ));
        if !function_name.is_empty() {
            root.set_attribute(("faas.name".into(), s(function_name)));
        }
        let version = match ctx.env_config.version.as_str() {
            "" => &resource.function_version,
            v => v,
        };
        root.set_attribute(("faas.version".into(), s(version)));
        if let Some(region) = &resource.region {
            root.set_attribute(("cloud.region".into(), s(region)));
        }
        if ctx.invoked_function_arn.starts_with("arn:") {
            root.set_attribute((
                "aws.lambda.invoked_arn".into(),
                s(&ctx.invoked_function_arn),
            ));
            if let Some(account) = ctx
                .invoked_function_arn
                .split(':')
                .nth(4)
                .filter(|a| !a.is_empty())
            {
                root.set_attribute(("cloud.account.id".into(), s(account)));
            }
        }
        if let Some(http) = info.http {
            if let Some(method) = &http.method {
                root.set_attribute(("http.request.method".into(), s(method)));
            }
            if let Some(route) = &route {
                root.set_attribute(("http.route".into(), s(route)));
            }
            root.set_http_request(http);
        }
        if let Some(link) = &parent.link {
            root.add_link(link);
        }
    }

    Invocation {
        root,
        recorder,
        placement: parent.placement,
        deadline_ms: ctx.deadline,
        shared: Arc::clone(shared),
    }
}
