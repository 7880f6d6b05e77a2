//! What an OTLP-over-stdout exporter wrote: the JSON lines of `otlp-stdout-span-exporter` (used
//! by lambda-otel-lite, variant F of `make bench-alternatives`), each an OTLP/HTTP request in
//! disguise for a log-forwarding pipeline:
//!
//! ```text
//! {"__otel_otlp_stdout":"…","source":"…","endpoint":"http://localhost:4318/v1/traces",
//!  "method":"POST","content-type":"application/x-protobuf","content-encoding":"gzip",
//!  "payload":"<base64 of the gzip of an ExportTraceServiceRequest>","base64":true}
//! ```

use lambda_trace_local::encoding::base64_decode;
use serde_json::Value;

use crate::otlp::{SpanCount, count_spans};

/// The exports found in a process's stdout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StdoutExports {
    /// Lines that are exports and decode to an `ExportTraceServiceRequest`.
    pub exports: usize,
    /// Their spans, and how many of them belong to the expected trace.
    pub spans: SpanCount,
    /// Other non-empty lines (logs).
    pub other_lines: usize,
    /// Why export lines did not decode (line number, problem).
    pub bad: Vec<String>,
}

impl StdoutExports {
    /// Reads every line of `stdout`; `trace_id` is the expected trace (16 raw bytes).
    pub fn parse(stdout: &str, trace_id: Option<&[u8; 16]>) -> StdoutExports {
        let mut out = StdoutExports::default();
        for (n, line) in stdout.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Ok(value) = serde_json::from_str::<Value>(line) else {
                out.other_lines += 1;
                continue;
            };
            if value.get("__otel_otlp_stdout").is_none() {
                out.other_lines += 1;
                continue;
            }
            match decode(&value).and_then(|request| count_spans(&request, trace_id)) {
                Ok(count) => {
                    out.exports += 1;
                    out.spans.spans += count.spans;
                    out.spans.in_trace += count.in_trace;
                }
                Err(e) => out.bad.push(format!("line {}: {e}", n + 1)),
            }
        }
        out
    }
}

/// The protobuf request of one export line.
fn decode(line: &Value) -> Result<Vec<u8>, String> {
    let field = |key: &str| line.get(key).and_then(Value::as_str);
    if field("content-type") != Some("application/x-protobuf") {
        return Err(format!("content-type {:?}", field("content-type")));
    }
    if line.get("base64").and_then(Value::as_bool) != Some(true) {
        return Err("payload not base64".to_owned());
    }
    let payload = field("payload").ok_or("no payload")?;
    let bytes = base64_decode(payload).ok_or("payload is not base64")?;
    match field("content-encoding") {
        Some("gzip") => gunzip(&bytes),
        None | Some("identity") => Ok(bytes),
        Some(other) => Err(format!("content-encoding {other}")),
    }
}

/// Decompresses a gzip member (RFC 1952): header, deflate data, CRC-32 and size (the size is
/// checked, the CRC is not).
pub fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let [0x1f, 0x8b, 8, flags, ..] = *data else {
        return Err("not gzip (deflate)".to_owned());
    };
    let short = || "truncated gzip header".to_owned();
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let len = data.get(pos..pos + 2).ok_or_else(short)?;
        pos += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let end = data
                .get(pos..)
                .ok_or_else(short)?
                .iter()
                .position(|&b| b == 0);
            pos += end.ok_or_else(short)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    let body = data
        .get(pos..data.len().saturating_sub(8))
        .filter(|_| data.len() >= pos + 8)
        .ok_or_else(short)?;
    let out = miniz_oxide::inflate::decompress_to_vec(body).map_err(|e| format!("{e:?}"))?;
    let size = &data[data.len() - 4..];
    let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
    if size as usize != out.len() % (1 << 32) {
        return Err(format!(
            "gzip size {size}, decompressed {} bytes",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_trace_local::encoding::base64_encode;

    /// `printf 'hello hello hello' | gzip -n -6 | xxd -i`.
    const HELLO_GZ: [u8; 28] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
        0x57, 0xc8, 0x40, 0x90, 0x00, 0x80, 0x88, 0xf9, 0xe5, 0x11, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn gunzips_and_rejects_garbage() {
        assert_eq!(gunzip(&HELLO_GZ).unwrap(), b"hello hello hello");
        assert!(gunzip(b"not gzip at all").is_err());
        assert!(gunzip(&HELLO_GZ[..12]).is_err());
        let mut wrong_size = HELLO_GZ;
        wrong_size[24] = 0x12;
        assert!(gunzip(&wrong_size).is_err());
    }

    /// Stored (uncompressed) deflate blocks in a gzip member with a file name: what a level-0
    /// encoder writes.
    fn stored_gzip(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3];
        out.extend_from_slice(b"name\0");
        let len = u16::try_from(data.len()).unwrap();
        out.push(1); // BFINAL, BTYPE 00
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&[0; 4]); // CRC (unchecked)
        out.extend_from_slice(&u32::from(len).to_le_bytes());
        out
    }

    #[test]
    fn counts_the_spans_of_export_lines() {
        let id = [5u8; 16];
        let request = crate::otlp::tests::export_request(&[id, id, [1; 16]]);
        let line = serde_json::json!({
            "__otel_otlp_stdout": "0.18.0",
            "source": "f",
            "endpoint": "http://localhost:4318/v1/traces",
            "method": "POST",
            "content-type": "application/x-protobuf",
            "content-encoding": "gzip",
            "payload": base64_encode(&stored_gzip(&request)),
            "base64": true,
        });
        let mut broken = line.clone();
        broken["payload"] = "!!!".into();
        let stdout = format!("{line}\nsome log line\n{{\"level\":\"info\"}}\n\n{line}\n{broken}\n");
        let exports = StdoutExports::parse(&stdout, Some(&id));
        assert_eq!(exports.exports, 2);
        assert_eq!(
            exports.spans,
            SpanCount {
                spans: 6,
                in_trace: 4
            }
        );
        assert_eq!(exports.other_lines, 2);
        assert_eq!(exports.bad.len(), 1, "{:?}", exports.bad);
        assert!(exports.bad[0].starts_with("line 6"), "{:?}", exports.bad);
    }
}
