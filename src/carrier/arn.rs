//! Resource names from the ARNs that events carry (`eventSourceARN`, `TopicArn`, `resources`).

/// The resource part of an ARN (`arn:partition:service:region:account:resource`): what follows
/// the fifth `:`, when not empty.
pub(crate) fn resource(arn: &str) -> Option<&str> {
    if !arn.starts_with("arn:") {
        return None;
    }
    arn.splitn(6, ':').nth(5).filter(|r| !r.is_empty())
}

/// The name after `kind/` in an ARN's resource: `stream/orders` → `orders`,
/// `table/Orders/stream/2024-…` → `Orders`.
pub(crate) fn named<'a>(arn: &'a str, kind: &str) -> Option<&'a str> {
    let rest = resource(arn)?.strip_prefix(kind)?.strip_prefix('/')?;
    rest.split('/').next().filter(|name| !name.is_empty())
}

/// The last `/`-separated part of an ARN's resource after `kind/`: `rule/nightly` and
/// `rule/my-bus/nightly` → `nightly`; `schedule/default/nightly` → `nightly`.
pub(crate) fn last_named<'a>(arn: &'a str, kind: &str) -> Option<&'a str> {
    let rest = resource(arn)?.strip_prefix(kind)?.strip_prefix('/')?;
    rest.rsplit('/').next().filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ARN, its resource, and the name and last name after the resource's type.
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn names_from_arns() {
        #[rustfmt::skip]
        let cases: &[Case] = &[
            // arn, resource, named(kind), last_named(kind) with kind from the resource type
            ("arn:aws:sns:us-east-2:123456789012:orders", Some("orders"), None, None),
            ("arn:aws:kinesis:us-east-2:123456789012:stream/orders", Some("stream/orders"), Some("orders"), Some("orders")),
            ("arn:aws:dynamodb:us-east-2:123456789012:table/Orders/stream/2024-03-14T10:00:00.000", Some("table/Orders/stream/2024-03-14T10:00:00.000"), Some("Orders"), Some("2024-03-14T10:00:00.000")),
            ("arn:aws:events:us-east-2:123456789012:rule/shop-bus/nightly", Some("rule/shop-bus/nightly"), Some("shop-bus"), Some("nightly")),
            ("arn:aws:kinesis:us-east-2:123456789012:stream/", Some("stream/"), None, None),
            ("arn:aws:kinesis:us-east-2:123456789012:", None, None, None),
            ("stream/orders", None, None, None),
            ("arn:aws", None, None, None),
            ("", None, None, None),
        ];
        for &(arn, res, name, last) in cases {
            assert_eq!(resource(arn), res, "{arn}");
            let kind = res.and_then(|r| r.split('/').next()).unwrap_or("stream");
            if res.is_some_and(|r| r.contains('/')) {
                assert_eq!(named(arn, kind), name, "{arn}");
                assert_eq!(last_named(arn, kind), last, "{arn}");
            }
        }
        assert_eq!(named("arn:aws:kinesis:r:1:stream/orders", "table"), None);
    }
}
