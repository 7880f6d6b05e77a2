//! Renders a [`Trace`] as a self-contained HTML page: inline CSS, no external assets, no
//! JavaScript. The waterfall is drawn as horizontal bars; each span opens (`<details>`) onto a
//! table of its annotations, metadata (pretty JSON), http and cause. A span with links to other
//! traces shows `⇢ n` in its row and a `links` row in its table; a link to a trace of the same
//! page is an anchor to it (each trace is a section with the id `trace-<trace id>`, each span's
//! details the id `span-<span id>`).

use std::fmt::Write as _;

use serde_json::Value;

use crate::collector::{Node, Trace};
use crate::waterfall;

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:18px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 6px}
.sub{color:#666;margin-bottom:16px} code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.row{display:grid;grid-template-columns:minmax(260px,34%) 90px 1fr;align-items:center;border-bottom:1px solid #eee}
.row:hover{background:#f0f4ff} .name{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;padding:3px 6px}
.dur{text-align:right;padding-right:10px;color:#444;font-variant-numeric:tabular-nums}
.track{position:relative;height:16px;margin:3px 8px;background:#f1f1f1;border-radius:3px}
.bar{position:absolute;top:0;bottom:0;border-radius:3px;min-width:2px;background:#4a78c2}
.bar.gw{background:#a15ac4}.bar.lambda{background:#e0a030}.bar.fn{background:#3d9a50}.bar.remote{background:#2aa3b8}
.bar.error{background:#e6b800}.bar.fault{background:#d33}.bar.progress{opacity:.5;background-image:repeating-linear-gradient(45deg,transparent 0 4px,rgba(255,255,255,.5) 4px 8px)}
.origin{color:#888;font-size:12px}.ann{color:#555;font-size:12px;margin-left:6px}.flag{color:#d33;margin-left:4px}
.note{color:#a60;font-size:12px;margin-left:6px}.link{color:#2a6;font-size:12px;margin-left:6px}
details{background:#fff;border:1px solid #e3e3e3;border-radius:4px;margin:6px 0;padding:4px 10px}
summary{cursor:pointer} table{border-collapse:collapse;margin:6px 0 8px} td,th{border:1px solid #e5e5e5;padding:3px 8px;vertical-align:top;text-align:left}
th{background:#f6f6f6;font-weight:600} pre{margin:0;white-space:pre-wrap}
"#;

fn bar_class(node: &Node) -> String {
    let mut classes = vec!["bar"];
    classes.push(match (node.origin.as_deref(), node.namespace.as_deref()) {
        (Some("AWS::ApiGateway::Stage"), _) => "gw",
        (Some("AWS::Lambda"), _) => "lambda",
        (Some("AWS::Lambda::Function"), _) => "fn",
        (_, Some("remote" | "aws")) => "remote",
        _ => "span",
    });
    if node.fault {
        classes.push("fault");
    } else if node.error || node.throttle {
        classes.push("error");
    }
    if node.in_progress() {
        classes.push("progress");
    }
    classes.join(" ")
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn details(node: &Node) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("id".into(), format!("<code>{}</code>", escape(&node.id))),
        (
            "parent".into(),
            format!(
                "<code>{}</code>",
                escape(node.parent_id.as_deref().unwrap_or("—"))
            ),
        ),
        ("kind".into(), format!("{:?}", node.kind)),
        ("source".into(), escape(&node.source.to_string())),
        (
            "document".into(),
            format!("<code>{}</code>", escape(&node.document_id)),
        ),
    ];
    if let Some(f) = &node.function {
        rows.push(("function".into(), escape(f)));
    }
    if let Some(o) = &node.origin {
        rows.push(("origin".into(), escape(o)));
    }
    if let Some(n) = &node.namespace {
        rows.push(("namespace".into(), escape(n)));
    }
    rows.push((
        "duration".into(),
        node.duration_ms()
            .map(|d| format!("{d:.3} ms"))
            .unwrap_or_else(|| "in progress".into()),
    ));
    let flags: Vec<&str> = [
        ("error", node.error),
        ("throttle", node.throttle),
        ("fault", node.fault),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(n, _)| *n)
    .collect();
    if !flags.is_empty() {
        rows.push(("flags".into(), flags.join(", ")));
    }
    if !node.annotations.is_empty() {
        let mut t = String::from("<table>");
        for (k, v) in &node.annotations {
            let _ = write!(
                t,
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                escape(k),
                escape(&v.to_string())
            );
        }
        t.push_str("</table>");
        rows.push(("annotations".into(), t));
    }
    for (key, value) in [
        ("metadata", &node.metadata),
        ("http", &node.http),
        ("aws", &node.aws),
        ("cause", &node.cause),
    ] {
        if !value.is_null() {
            rows.push((key.into(), format!("<pre>{}</pre>", escape(&pretty(value)))));
        }
    }
    let links = node.links();
    if !links.is_empty() || node.dropped_links() > 0 {
        let mut list = String::new();
        for link in &links {
            let target = link.span_id.as_deref().map_or_else(
                || format!("#trace-{}", link.trace_id),
                |span| format!("#span-{span}"),
            );
            let _ = write!(
                list,
                "<div><a href=\"{}\">trace <code>{}</code>{}</a></div>",
                escape(&target),
                escape(&link.trace_id),
                link.span_id
                    .as_deref()
                    .map(|s| format!(" span <code>{}</code>", escape(s)))
                    .unwrap_or_default()
            );
        }
        if node.dropped_links() > 0 {
            let _ = write!(
                list,
                "<div>{} more, not written</div>",
                node.dropped_links()
            );
        }
        rows.push(("links".into(), list));
    }
    if let Some(note) = &node.note {
        rows.push(("note".into(), escape(note)));
    }
    let mut out = String::from("<table>");
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    out.push_str("</table>");
    out
}

/// Renders one trace as a complete HTML page.
pub fn render(trace: &Trace) -> String {
    render_many(std::slice::from_ref(trace))
}

/// Renders several traces on one page, one section each.
pub fn render_many(traces: &[Trace]) -> String {
    let mut out = String::new();
    let title = match traces {
        [one] => format!("trace {}", one.trace_id),
        _ => format!("{} traces", traces.len()),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>\n",
        escape(&title)
    );
    for trace in traces {
        section(&mut out, trace);
    }
    out.push_str("</body></html>\n");
    out
}

fn section(out: &mut String, trace: &Trace) {
    let _ = write!(
        out,
        "<h1 id=\"trace-{}\">trace <code>{}</code></h1><div class=\"sub\">total {:.1} ms · {} spans</div>\n<div class=\"waterfall\">\n",
        escape(&trace.trace_id),
        escape(&trace.trace_id),
        trace.duration_ms(),
        trace.nodes.len()
    );
    let start = trace.start();
    let total = (trace.end() - start).max(1e-9);
    for node in &trace.nodes {
        let end = node.end_time.unwrap_or(trace.end());
        let left = ((node.start_time - start) / total * 100.0).clamp(0.0, 100.0);
        let width = ((end - node.start_time) / total * 100.0).clamp(0.0, 100.0 - left);
        let name = escape(&waterfall::name(node));
        let origin = node
            .origin
            .as_deref()
            .map(|o| {
                format!(
                    " <span class=\"origin\">({})</span>",
                    escape(waterfall::origin_label(o))
                )
            })
            .unwrap_or_default();
        let flags = waterfall::flags(node);
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("<span class=\"flag\">{flags}</span>")
        };
        let ann = waterfall::annotation_text(node);
        let ann = if ann.is_empty() {
            String::new()
        } else {
            format!("<span class=\"ann\">{}</span>", escape(&ann))
        };
        let mut note = node
            .note
            .as_deref()
            .map(|n| format!("<span class=\"note\">({})</span>", escape(n)))
            .unwrap_or_default();
        let links = node.links().len() as u64 + node.dropped_links();
        if links > 0 {
            let _ = write!(
                note,
                "<span class=\"link\" title=\"linked to other traces\">⇢ {links}</span>"
            );
        }
        let duration = node
            .duration_ms()
            .map(|d| format!("{d:.1} ms"))
            .unwrap_or_else(|| "in progress".into());
        let _ = writeln!(
            out,
            "<div class=\"row\"><div class=\"name\" style=\"padding-left:{}px\" title=\"{name}\">{name}{origin}{flags}{ann}{note}</div>\
             <div class=\"dur\">{duration}</div><div class=\"track\"><div class=\"{}\" style=\"left:{left:.3}%;width:{width:.3}%\"></div></div></div>",
            6 + node.depth * 16,
            bar_class(node)
        );
    }
    out.push_str("</div>\n<h2>spans</h2>\n");
    for node in &trace.nodes {
        let _ = writeln!(
            out,
            "<details id=\"span-{}\"><summary>{}{} <span class=\"origin\">{}</span></summary>{}</details>",
            escape(&node.id),
            "&nbsp;&nbsp;".repeat(node.depth),
            escape(&waterfall::label(node)),
            node.duration_ms()
                .map(|d| format!("{d:.1} ms"))
                .unwrap_or_else(|| "in progress".into()),
            details(node)
        );
    }
    for note in &trace.notes {
        let _ = writeln!(out, "<p class=\"note\">note: {}</p>", escape(note));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{Collector, Source};
    use serde_json::json;

    #[test]
    fn self_contained_page_with_bars_and_details() {
        let c = Collector::new();
        let t = "1-6740c1a2-5c9f1e0b7a3d2c4e6f8a9b0c";
        c.add(json!({"trace_id": t, "id": "a", "name": "gw<script>", "origin": "AWS::ApiGateway::Stage",
                      "start_time": 1.0, "end_time": 1.1}), Source::Emulated("API Gateway".into()));
        c.add(
            json!({"trace_id": t, "id": "b", "parent_id": "a", "type": "subsegment", "name": "work",
                      "start_time": 1.05, "fault": true, "metadata": {"default": {"k": [1, 2]}},
                      "annotations": {"ColdStart": false},
                      "cause": {"exceptions": [{"message": "boom"}]}}),
            Source::Daemon,
        );
        let html = render(&c.trace(t).unwrap());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(html.contains("gw&lt;script&gt;"));
        assert!(html.contains("left:50.000%;width:50.000%"));
        assert!(html.contains("bar span fault progress"));
        assert!(html.contains("&quot;k&quot;: ["));
        assert!(html.contains("ColdStart=false"));
        assert!(html.contains("boom"));
        assert!(!html.contains("⇢"), "no links, no marker");
    }

    #[test]
    fn links_are_anchors_to_the_linked_span() {
        let c = Collector::new();
        let (t, u) = (
            "1-6740c1a2-5c9f1e0b7a3d2c4e6f8a9b0c",
            "1-6740c1a3-000000000000000000000001",
        );
        c.add(json!({"trace_id": t, "id": "a", "name": "fulfil", "start_time": 1.0, "end_time": 1.1,
                      "metadata": {"lambda_trace": {"links": [{"trace_id": u, "span_id": "00000000000000bb"}]}}}),
              Source::Daemon);
        c.add(json!({"trace_id": u, "id": "00000000000000bb", "name": "SQS", "start_time": 0.5, "end_time": 0.6}),
              Source::Daemon);
        let html = render_many(&c.traces());
        assert!(html.contains(&format!("id=\"trace-{u}\"")));
        assert!(html.contains("id=\"span-00000000000000bb\""));
        assert!(html.contains("href=\"#span-00000000000000bb\""), "{html}");
        assert!(html.contains("⇢ 1"));
    }
}
