//! Error types. Tracing never returns these to the Lambda runtime: parse errors mean "no caller
//! context" and export errors cost one log line.

use std::time::Duration;

/// Why a trace header could not be parsed. Propagators return `None` on any of these; the
/// variants exist so that tests and log lines can say *why*.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The trace id is malformed, of the wrong length, uppercase where lowercase is required, or
    /// all zeros.
    #[error("invalid trace id")]
    InvalidTraceId,
    /// The span (parent) id is malformed or zero.
    #[error("invalid span id")]
    InvalidSpanId,
    /// The sampling field holds an unknown value.
    #[error("invalid sampling flag")]
    InvalidSampling,
    /// The header's version is unknown or forbidden (W3C `ff`).
    #[error("unsupported version")]
    UnsupportedVersion,
    /// The header does not have the format's shape (field count, separators, missing key).
    #[error("malformed header")]
    Malformed,
    /// The same single-valued header arrived more than once with different values.
    #[error("conflicting repeated header")]
    Conflicting,
    /// The value is longer than this crate reads (see `propagation::MAX_HEADER_LEN`).
    #[error("header value too long")]
    TooLong,
}

/// Why an export failed. Reported in one log line, never to the handler.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The export did not finish before its deadline.
    #[error("export timed out after {0:?}")]
    Timeout(Duration),
    /// A socket or connection error.
    #[error("transport error: {0}")]
    Io(#[from] std::io::Error),
    /// The backend refused some or all documents.
    #[error("backend rejected {rejected} of {total} documents: {message}")]
    Rejected {
        /// How many documents were refused.
        rejected: usize,
        /// How many documents were sent.
        total: usize,
        /// The backend's reason (error codes), already shortened for a log line.
        message: String,
    },
    /// Anything else, described.
    #[error("export failed: {0}")]
    Other(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_displays() {
        for (e, s) in [
            (ParseError::InvalidTraceId, "invalid trace id"),
            (ParseError::InvalidSpanId, "invalid span id"),
            (ParseError::InvalidSampling, "invalid sampling flag"),
            (ParseError::UnsupportedVersion, "unsupported version"),
            (ParseError::Malformed, "malformed header"),
            (ParseError::Conflicting, "conflicting repeated header"),
            (ParseError::TooLong, "header value too long"),
        ] {
            assert_eq!(e.to_string(), s);
        }
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        for (e, s) in [
            (
                ExportError::Timeout(Duration::from_millis(5)),
                "export timed out after 5ms",
            ),
            (ExportError::Io(io), "transport error: refused"),
            (
                ExportError::Rejected {
                    rejected: 1,
                    total: 2,
                    message: "InvalidSegment".into(),
                },
                "backend rejected 1 of 2 documents: InvalidSegment",
            ),
            (ExportError::Other("x".into()), "export failed: x"),
        ] {
            assert_eq!(e.to_string(), s);
        }
    }
}
