//! Random identifiers in the formats AWS uses: request ids, X-Ray trace ids and segment ids.

use std::time::{SystemTime, UNIX_EPOCH};

/// A random request id shaped like a UUID v4 (`8-4-4-4-12` lowercase hex), as Lambda and
/// API Gateway use.
pub fn request_id() -> String {
    let a = fastrand::u128(..);
    let hex = format!("{a:032x}");
    // Set the version nibble (4) and the variant bits (8..b) so it looks like a real v4 UUID.
    let variant = ['8', '9', 'a', 'b'][fastrand::usize(..4)];
    format!(
        "{}-{}-4{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        variant,
        &hex[17..20],
        &hex[20..32]
    )
}

/// A new X-Ray trace id: `1-{8 hex epoch seconds}-{24 hex random}`.
pub fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let random = fastrand::u128(..) & ((1u128 << 96) - 1);
    format!("1-{:08x}-{:024x}", secs as u32, random)
}

/// A new X-Ray segment id: 16 lowercase hex digits, never all zeros.
pub fn segment_id() -> String {
    format!("{:016x}", fastrand::u64(1..))
}

/// Seconds since the Unix epoch as a float (X-Ray's `start_time`/`end_time` format).
pub fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_hex(s: &str) -> bool {
        s.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    }

    #[test]
    fn formats() {
        let r = request_id();
        let parts: Vec<&str> = r.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts.iter().all(|p| is_hex(p)));
        let t = trace_id();
        let parts: Vec<&str> = t.split('-').collect();
        assert_eq!(parts[0], "1");
        assert_eq!(parts[1].len(), 8);
        assert_eq!(parts[2].len(), 24);
        assert!(is_hex(parts[1]) && is_hex(parts[2]));
        let s = segment_id();
        assert_eq!(s.len(), 16);
        assert!(is_hex(&s));
    }
}
