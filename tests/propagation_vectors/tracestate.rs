//! W3C `tracestate` (Trace Context Level 2 §3.3): list grammar, keys, values, duplicates, limits.
//! Each row: the `tracestate` header values (repeats joined), the `tracestate` kept and sent
//! (`None`: dropped, `traceparent` still valid), the rule.

use lambda_trace::propagation::testing::{Pairs, pairs};
use lambda_trace::propagation::{MAX_TRACESTATE_LEN, Propagator, W3cPropagator};

const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

#[rustfmt::skip]
const ROWS: &[(&[&str], Option<&str>, &str)] = &[
    (&["congo=t61rcWkgMzE"], Some("congo=t61rcWkgMzE"), "§3.1 example: one vendor"),
    (&["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"], Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), "§3.3.4 example: multiple tracing systems"),
    (&["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"], Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), "§3.3.2 multiple header fields are combined (RFC 9110 §5.3)"),
    (&["vendorname1=opaqueValue1,vendorname2=opaqueValue2"], Some("vendorname1=opaqueValue1,vendorname2=opaqueValue2"), "§3.3.2.1 list example"),
    (&["fw529a3039@dt=FIfUYMuS4g,congo=1"], Some("fw529a3039@dt=FIfUYMuS4g,congo=1"), "§3.3.2.2.1 multi-tenant key tenant@system"),
    (&["1tenant@sys=x"], Some("1tenant@sys=x"), "§3.3.2.2.1 a key may begin with a digit"),
    (&["123=x"], Some("123=x"), "§3.3.2.2.1 an all-digit key"),
    (&["a@b@c=x"], Some("a@b@c=x"), "§3.3.2.2.1 '@' is a keychar anywhere after the first"),
    (&["k_-*/@=v"], Some("k_-*/@=v"), "§3.3.2.2.1 keychar = lcalpha / DIGIT / _ - * / @"),
    (&["foo= bar"], Some("foo= bar"), "§3.3.2.2.2 leading spaces are part of the value"),
    (&["foo=bar   "], Some("foo=bar"), "§3.3.2.2.2 trailing spaces are optional whitespace, not value"),
    (&["foo=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~"], Some("foo=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~"), "§3.3.2.2.2 nblk-chr: printable ASCII but , and ="),
    (&["foo=bar , ,\tbaz=qux"], Some("foo=bar,baz=qux"), "§3.3.2 empty and whitespace-only members are allowed (dropped)"),
    (&[""], None, "§3.3.2 an empty tracestate is accepted (nothing to send)"),
    (&[" , "], None, "§3.3.2 whitespace-only members only"),
    (&["foo=1,bar=2,foo=3"], Some("foo=1,bar=2"), "§3.5 vendors MAY discard duplicate keys; the left-most (latest) entry is kept"),
    (&["foo=1,foo=1"], Some("foo=1"), "§3.3.3 only one entry per key (identical duplicate)"),
    (&["Foo=bar"], None, "§3.3.2.2.1 uppercase key: invalid, tracestate dropped"),
    (&["_foo=bar"], None, "§3.3.2.2.1 a key begins with lcalpha or DIGIT"),
    (&["foo"], None, "§3.3.2.1 list-member = key \"=\" value"),
    (&["foo="], None, "§3.3.2.2.2 a value has at least one non-blank character"),
    (&["foo=b=r"], None, "§3.3.2.2.2 '=' is not a value character"),
    (&["foo=b\tr"], None, "§3.3.2.2.2 tabs are excluded from values"),
    (&["foo=b\u{e4}r"], None, "§3.3.2.2.2 printable ASCII only"),
    (&["foo=bar,Baz=qux"], None, "§3.3 one invalid member: tracestate dropped, traceparent kept"),
];

/// `n` members `k0=v,k1=v,…`.
fn members(n: usize) -> String {
    (0..n)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn check() {
    let p = W3cPropagator::default();
    let state_of = |values: &[String]| {
        let mut h = pairs(&[("traceparent", TP)]);
        h.0.extend(values.iter().map(|v| ("tracestate".to_string(), v.clone())));
        let cx = p
            .extract(&h)
            .expect("traceparent is valid whatever tracestate is");
        let mut out = Pairs::default();
        p.inject(&cx, &mut out);
        assert_eq!(
            out.value("tracestate"),
            cx.trace_state.as_deref(),
            "sent as kept"
        );
        cx.trace_state
    };
    for (values, expected, why) in ROWS {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        assert_eq!(state_of(&values).as_deref(), *expected, "{why}");
    }
    // Generated edge cases, each with its rule.
    let long_key = format!("a{}", "b".repeat(255));
    let cases: Vec<(String, Option<String>, &str)> = vec![
        (
            members(32),
            Some(members(32)),
            "§3.3.2 at most 32 list-members",
        ),
        (
            members(33),
            None,
            "§3.3.2 list = list-member 0*31(…): 33 is invalid",
        ),
        (
            format!("{long_key}=v"),
            Some(format!("{long_key}=v")),
            "§3.3.2.2.1 a key of 256 characters",
        ),
        (
            format!("{long_key}b=v"),
            None,
            "§3.3.2.2.1 a key of 257 characters",
        ),
        (
            format!("t@{}=v", "s".repeat(254)),
            Some(format!("t@{}=v", "s".repeat(254))),
            "§3.3.2.2.1 a 256-character multi-tenant key",
        ),
        (
            format!("k={}", "v".repeat(256)),
            Some(format!("k={}", "v".repeat(256))),
            "§3.3.2.2.2 a value of 256 characters",
        ),
        (
            format!("k={}", "v".repeat(257)),
            None,
            "§3.3.2.2.2 a value of 257 characters",
        ),
    ];
    for (value, expected, why) in cases {
        assert_eq!(state_of(&[value]), expected, "{why}");
    }
    // §3.3.3.1: over MAX_TRACESTATE_LEN, whole entries go, the long ones first, then from the end.
    let long = format!("big={}", "x".repeat(200));
    let small: Vec<String> = (0..20)
        .map(|i| format!("s{i:02}={}", "y".repeat(20)))
        .collect();
    let input = format!("{},{long},{}", small[..5].join(","), small[5..].join(","));
    let kept = state_of(&[input]).expect("truncated, not dropped");
    assert!(
        kept.len() <= MAX_TRACESTATE_LEN,
        "§3.3.3.1 truncated to the documented limit"
    );
    assert!(
        !kept.contains("big="),
        "§3.3.3.1 entries over 128 characters are removed first"
    );
    assert!(
        kept.starts_with("s00=") && kept.ends_with(&small[19]),
        "§3.3.3.1 whole entries, order kept"
    );
    let many: Vec<String> = (0..25)
        .map(|i| format!("m{i:02}={}", "z".repeat(20)))
        .collect();
    let kept = state_of(&[many.join(",")]).unwrap();
    assert!(
        kept.len() <= MAX_TRACESTATE_LEN && kept.starts_with("m00="),
        "§3.3.3.1 from the end"
    );
    assert!(!kept.contains("m24="), "§3.3.3.1 the right-most entries go");
}
