//! Renders a [`Trace`] as a terminal waterfall: one line per span, indented by depth, with its
//! duration, a bar on a shared time axis, flags and the key annotations. A span's links to other
//! traces follow its line, one line each (`⇢ linked: trace … span …`, at most
//! [`MAX_LINK_LINES`], then how many more).
//!
//! ```text
//! trace 1-6740c1a2-5c9f1e0b7a3d2c4e6f8a9b0c   total 48.3 ms   5 spans
//! demo-api/local (API Gateway)          48.3 ms  |████████████████████████████████████████|
//!   router (AWS::Lambda)                47.9 ms  |███████████████████████████████████████ |
//! ```

use std::fmt::Write as _;
use std::io::IsTerminal;

use crate::collector::{Node, Trace};

/// Rendering options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Width of the time axis in columns.
    pub width: usize,
    /// Use ANSI colours.
    pub color: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            width: 40,
            color: false,
        }
    }
}

impl Options {
    /// Default options, with colours when stdout is a terminal (and `NO_COLOR` is unset).
    pub fn for_stdout() -> Options {
        Options {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            ..Options::default()
        }
    }
}

/// Most link lines printed under one span; the rest are counted on one more line.
pub const MAX_LINK_LINES: usize = 5;

/// The lines of a node's links (see the module docs), without indentation.
pub fn link_lines(node: &Node) -> Vec<String> {
    let links = node.links();
    let mut lines: Vec<String> = links
        .iter()
        .take(MAX_LINK_LINES)
        .map(|l| match &l.span_id {
            Some(span) => format!("⇢ linked: trace {} span {span}", l.trace_id),
            None => format!("⇢ linked: trace {}", l.trace_id),
        })
        .collect();
    let more =
        (links.len().saturating_sub(MAX_LINK_LINES) as u64).saturating_add(node.dropped_links());
    if more > 0 {
        lines.push(format!("⇢ … {more} more links"));
    }
    lines
}

/// A readable label for an origin.
pub fn origin_label(origin: &str) -> &str {
    match origin {
        "AWS::ApiGateway::Stage" => "API Gateway",
        other => other,
    }
}

/// The name of a node. A segment that lambda-trace named after its function while the span has
/// a name of its own (a message's `process` span in the producer's trace:
/// `metadata.lambda_trace.span_name`) shows both: `fulfil: process orders`.
pub fn name(node: &Node) -> String {
    match node
        .metadata
        .pointer("/lambda_trace/span_name")
        .and_then(serde_json::Value::as_str)
    {
        Some(span) if span != node.name => format!("{}: {span}", node.name),
        _ => node.name.clone(),
    }
}

/// The label of a node: its [`name`], plus its origin in parentheses.
pub fn label(node: &Node) -> String {
    match &node.origin {
        Some(o) => format!("{} ({})", name(node), origin_label(o)),
        None => name(node),
    }
}

/// The key annotations of a node as `k=v` pairs: `ColdStart`, `Service`, then the others sorted.
pub fn annotation_text(node: &Node) -> String {
    let mut keys: Vec<&String> = node.annotations.keys().collect();
    keys.sort_by_key(|k| match k.as_str() {
        "ColdStart" => (0, (*k).clone()),
        "Service" => (1, (*k).clone()),
        _ => (2, (*k).clone()),
    });
    keys.iter()
        .filter_map(|k| node.annotation(k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The flags of a node: `✖` fault, `⚠` error or throttle.
pub fn flags(node: &Node) -> String {
    let mut f = String::new();
    if node.fault {
        f.push('✖');
    }
    if node.error || node.throttle {
        f.push('⚠');
    }
    f
}

/// Bar columns `[from, to)` of a span on an axis of `width` columns covering the trace.
pub fn bar_columns(trace: &Trace, node: &Node, width: usize) -> (usize, usize) {
    let start = trace.start();
    let total = trace.end() - start;
    if total <= 0.0 || width == 0 {
        return (0, width);
    }
    let end = node.end_time.unwrap_or(trace.end());
    let scale = |t: f64| ((t - start) / total * width as f64).clamp(0.0, width as f64);
    let from = (scale(node.start_time).floor() as usize).min(width.saturating_sub(1));
    let to = (scale(end).ceil() as usize).clamp(from + 1, width);
    (from, to)
}

fn color_of(node: &Node) -> &'static str {
    if node.fault {
        return "\x1b[31m";
    }
    if node.error || node.throttle {
        return "\x1b[33m";
    }
    match (node.origin.as_deref(), node.namespace.as_deref()) {
        (Some("AWS::ApiGateway::Stage"), _) => "\x1b[35m",
        (Some("AWS::Lambda"), _) => "\x1b[33m",
        (Some("AWS::Lambda::Function"), _) => "\x1b[32m",
        (_, Some("remote" | "aws")) => "\x1b[36m",
        _ => "\x1b[34m",
    }
}

/// Renders the whole waterfall (header line, one line per span, notes).
pub fn render(trace: &Trace, options: &Options) -> String {
    let mut out = String::new();
    let (bold, dim, reset) = if options.color {
        ("\x1b[1m", "\x1b[2m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    let _ = writeln!(
        out,
        "{bold}trace {}{reset}   total {:.1} ms   {} spans",
        trace.trace_id,
        trace.duration_ms(),
        trace.nodes.len()
    );
    let labels: Vec<String> = trace
        .nodes
        .iter()
        .map(|n| format!("{}{}", "  ".repeat(n.depth), label(n)))
        .collect();
    let label_width = labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(30, 70);
    for (node, label) in trace.nodes.iter().zip(&labels) {
        let label: String = if label.chars().count() > label_width {
            let mut l: String = label.chars().take(label_width - 1).collect();
            l.push('…');
            l
        } else {
            label.clone()
        };
        let pad = label_width - label.chars().count();
        let duration = match node.duration_ms() {
            Some(ms) => format!("{ms:.1} ms"),
            None => "in progress".to_owned(),
        };
        let (from, to) = bar_columns(trace, node, options.width);
        let fill = if node.in_progress() { '░' } else { '█' };
        let bar: String = (0..options.width)
            .map(|c| if c >= from && c < to { fill } else { ' ' })
            .collect();
        let (bar_on, bar_off) = if options.color {
            (color_of(node), reset)
        } else {
            ("", "")
        };
        let mut tail = String::new();
        let flags = flags(node);
        if !flags.is_empty() {
            tail.push_str("  ");
            tail.push_str(&flags);
        }
        if let Some(status) = node.http_status {
            let _ = write!(tail, "  {status}");
        }
        let ann = annotation_text(node);
        if !ann.is_empty() {
            tail.push_str("  ");
            tail.push_str(&ann);
        }
        if let Some(note) = &node.note {
            let _ = write!(tail, "  {dim}({note}){reset}");
        }
        let _ = writeln!(
            out,
            "{label}{}  {duration:>11}  |{bar_on}{bar}{bar_off}|{tail}",
            " ".repeat(pad)
        );
        for line in link_lines(node) {
            let _ = writeln!(out, "{}{dim}{line}{reset}", "  ".repeat(node.depth + 1));
        }
    }
    for note in &trace.notes {
        let _ = writeln!(out, "{dim}note: {note}{reset}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{Collector, Source};
    use serde_json::json;

    const T: &str = "1-6740c1a2-5c9f1e0b7a3d2c4e6f8a9b0c";

    fn trace() -> Trace {
        let c = Collector::new();
        c.add(json!({"trace_id": T, "id": "a", "name": "demo-api/local", "origin": "AWS::ApiGateway::Stage",
                      "start_time": 10.0, "end_time": 10.040, "http": {"response": {"status": 200}}}), Source::Daemon);
        c.add(json!({"trace_id": T, "id": "b", "parent_id": "a", "type": "subsegment", "name": "router",
                      "start_time": 10.010, "end_time": 10.030, "fault": true,
                      "annotations": {"zeta": 1, "Service": "router", "ColdStart": true},
                      "subsegments": [{"id": "c", "name": "pending", "start_time": 10.020}]}), Source::Daemon);
        c.add(json!({"trace_id": T, "id": "d", "parent_id": "nope", "type": "subsegment", "name": "lost",
                      "start_time": 10.0, "end_time": 10.001}), Source::Daemon);
        c.trace(T).unwrap()
    }

    #[test]
    fn plain_rendering() {
        let text = render(&trace(), &Options::default());
        assert!(!text.contains('\x1b'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("trace {T}   total 40.0 ms   4 spans"));
        assert!(lines[1].starts_with("demo-api/local (API Gateway)"));
        assert!(lines[1].contains("40.0 ms  |████████████████████████████████████████|  200"));
        assert!(lines[2].starts_with("  router  "));
        assert!(lines[2].contains("20.0 ms  |          ████████████████████          |  ✖  ColdStart=true Service=router zeta=1"), "{}", lines[2]);
        assert!(lines[3].starts_with("    pending"));
        assert!(
            lines[3].contains("in progress  |                    ░░░░░░░░░░░░░░░░░░░░|"),
            "{}",
            lines[3]
        );
        assert!(lines[4].starts_with("lost"));
        assert!(lines[4].contains("(parent nope is not in this trace)"));
        // All bars line up.
        let cols: Vec<usize> = lines[1..]
            .iter()
            .map(|l| l.chars().position(|c| c == '|').unwrap())
            .collect();
        assert!(cols.windows(2).all(|w| w[0] == w[1]), "{cols:?}");
    }

    #[test]
    fn links_follow_their_span() {
        let c = Collector::new();
        let links: Vec<serde_json::Value> = (0..7)
            .map(|i| json!({"trace_id": format!("1-00000001-00000000000000000000000{i}"), "span_id": format!("000000000000000{i}")}))
            .collect();
        c.add(
            json!({"trace_id": T, "id": "a", "name": "fulfil", "origin": "AWS::Lambda::Function",
                      "start_time": 10.0, "end_time": 10.040}),
            Source::Daemon,
        );
        c.add(json!({"trace_id": T, "id": "b", "parent_id": "a", "type": "subsegment", "name": "fulfil",
                      "start_time": 10.010, "end_time": 10.030,
                      "metadata": {"lambda_trace": {"links": links, "dropped_links": 3, "span_name": "process orders"}}}), Source::Daemon);
        c.add(json!({"trace_id": T, "id": "c", "parent_id": "a", "type": "subsegment", "name": "otlp",
                      "start_time": 10.031, "end_time": 10.032,
                      "metadata": {"otel": {"links": [{"trace_id": "1-00000002-000000000000000000000000", "span_id": "00000000000000ff"}]}}}), Source::Otlp);
        let text = render(&c.trace(T).unwrap(), &Options::default());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[2].starts_with("  fulfil: process orders  "), "{text}");
        assert_eq!(
            lines[3],
            "    ⇢ linked: trace 1-00000001-000000000000000000000000 span 0000000000000000"
        );
        assert_eq!(
            lines[8], "    ⇢ … 5 more links",
            "2 past the 5 shown, 3 dropped: {text}"
        );
        assert!(lines[9].starts_with("  otlp"), "{text}");
        assert_eq!(
            lines[10],
            "    ⇢ linked: trace 1-00000002-000000000000000000000000 span 00000000000000ff"
        );
        assert_eq!(lines.len(), 11, "{text}");
    }

    #[test]
    fn colours_only_when_asked() {
        let text = render(
            &trace(),
            &Options {
                width: 20,
                color: true,
            },
        );
        assert!(text.contains("\x1b[31m"));
    }

    #[test]
    fn bar_has_at_least_one_column() {
        let t = trace();
        let lost = t.node("d").unwrap();
        assert_eq!(bar_columns(&t, lost, 40), (0, 1));
    }
}
