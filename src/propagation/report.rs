//! [`ExtractReport`]: what each format made of a request's headers, for debugging a caller whose
//! context is not continued.

use std::fmt;

use crate::context::{Sampling, TraceContext};
use crate::error::ParseError;

/// What one format found in the headers.
///
/// ```
/// use lambda_trace::ParseError;
/// use lambda_trace::propagation::FormatOutcome;
///
/// let outcome = FormatOutcome::Rejected(ParseError::InvalidTraceId);
/// assert_eq!(outcome.to_string(), "rejected: invalid trace id");
/// assert_eq!(FormatOutcome::Absent.to_string(), "absent");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatOutcome {
    /// A valid context: its trace, and whether it names the caller's span (a parent).
    Found {
        /// `true` when the context names a parent span (`span_id` is set).
        has_parent: bool,
    },
    /// A sampling decision without trace ids (B3 `b3: 0`, `X-B3-Sampled` alone, …).
    SamplingOnly(Sampling),
    /// None of the format's headers are present.
    Absent,
    /// A header of the format is present but invalid; the reason.
    Rejected(ParseError),
}

impl FormatOutcome {
    /// The outcome of one propagator's [`try_extract`](super::Propagator::try_extract).
    ///
    /// ```
    /// use lambda_trace::propagation::FormatOutcome;
    ///
    /// assert_eq!(FormatOutcome::of(&Ok(None)), FormatOutcome::Absent);
    /// ```
    pub fn of(result: &Result<Option<TraceContext>, ParseError>) -> Self {
        match result {
            Ok(Some(cx)) if cx.sampling_only => Self::SamplingOnly(cx.sampling),
            Ok(Some(cx)) => Self::Found {
                has_parent: cx.span_id.is_some(),
            },
            Ok(None) => Self::Absent,
            Err(e) => Self::Rejected(e.clone()),
        }
    }
}

impl fmt::Display for FormatOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Found { has_parent: true } => f.write_str("found"),
            Self::Found { has_parent: false } => f.write_str("found (trace id only)"),
            Self::SamplingOnly(s) => write!(f, "sampling decision only ({s:?})"),
            Self::Absent => f.write_str("absent"),
            Self::Rejected(e) => write!(f, "rejected: {e}"),
        }
    }
}

/// One format's line of an [`ExtractReport`].
///
/// ```
/// use lambda_trace::propagation::{FormatOutcome, FormatReport};
///
/// let line = FormatReport { format: "b3", outcome: FormatOutcome::Absent };
/// assert_eq!(line.to_string(), "b3: absent");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatReport {
    /// The format's `OTEL_PROPAGATORS` name ([`Propagator::name`](super::Propagator::name)).
    pub format: &'static str,
    /// What it found.
    pub outcome: FormatOutcome,
}

impl fmt::Display for FormatReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.format, self.outcome)
    }
}

/// What [`CompositePropagator::extract_report`](super::CompositePropagator::extract_report)
/// found: every configured format's outcome, in extraction order, and the context that
/// [`extract`](super::Propagator::extract) returns for the same headers. Nothing is logged
/// while building it; its [`Display`](fmt::Display) is one line naming no header value.
///
/// ```
/// use lambda_trace::ParseError;
/// use lambda_trace::propagation::testing::pairs;
/// use lambda_trace::propagation::{CompositePropagator, FormatOutcome, PropagatorKind};
///
/// let p = CompositePropagator::from_kinds(&[PropagatorKind::TraceContext, PropagatorKind::B3]);
/// let headers = pairs(&[
///     ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"),
///     ("b3", "0"),
/// ]);
/// let report = p.extract_report(&headers);
/// assert_eq!(report.formats[0].outcome, FormatOutcome::Rejected(ParseError::Malformed));
/// assert!(report.context.as_ref().is_some_and(|cx| cx.sampling_only));
/// assert_eq!(
///     report.to_string(),
///     "tracecontext: rejected: malformed header; b3: sampling decision only (NotSampled)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtractReport {
    /// Each format's outcome, in extraction order.
    pub formats: Vec<FormatReport>,
    /// The context `extract` returns (baggage included).
    pub context: Option<TraceContext>,
}

impl ExtractReport {
    /// The formats whose headers were present but invalid, with the reasons.
    ///
    /// ```
    /// use lambda_trace::propagation::testing::pairs;
    /// use lambda_trace::propagation::CompositePropagator;
    ///
    /// let report = CompositePropagator::default().extract_report(&pairs(&[("uber-trace-id", "x")]));
    /// assert_eq!(report.rejected().map(|(format, _)| format).collect::<Vec<_>>(), ["jaeger"]);
    /// ```
    pub fn rejected(&self) -> impl Iterator<Item = (&'static str, &ParseError)> {
        self.formats.iter().filter_map(|r| match &r.outcome {
            FormatOutcome::Rejected(e) => Some((r.format, e)),
            _ => None,
        })
    }
}

impl fmt::Display for ExtractReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.formats.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}
