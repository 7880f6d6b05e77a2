//! Helpers shared by the carriers: reading `http::HeaderMap`s, and turning an event's raw request
//! fields into a capped, query-free [`HttpRequestInfo`].
//!
//! Header values are returned **raw** (not trimmed, not length-checked): the limits of
//! [`MAX_HEADER_LEN`](crate::propagation::MAX_HEADER_LEN) are applied by the propagation helpers,
//! which can then report an oversize header as `ParseError::TooLong` instead of it silently
//! vanishing, exactly as for [`HeaderExtractor`](crate::propagation::HeaderExtractor). Values
//! recorded in spans (URL, route, user agent, method, client IP) are capped here.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;

use crate::span::HttpRequestInfo;

/// Longest URL (path) recorded, in characters.
pub(crate) const MAX_URL_CHARS: usize = 2048;
/// Longest route template recorded, in characters.
pub(crate) const MAX_ROUTE_CHARS: usize = 1024;
/// Longest user agent recorded, in characters.
pub(crate) const MAX_USER_AGENT_CHARS: usize = 512;
/// Longest HTTP method recorded, in characters (extension methods can be any token).
pub(crate) const MAX_METHOD_CHARS: usize = 32;

/// The values of header `name` in `map`, in order. `HeaderMap` names are lowercase already, so
/// the lookup is case-insensitive. Values that are not UTF-8 are skipped; UTF-8 beyond ASCII is
/// kept (the JSON carrier returns such values too, so both views of an event agree).
pub(super) fn header_values<'a>(map: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    map.get_all(name)
        .iter()
        .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
        .collect()
}

/// The first value of header `name` in `map` that is UTF-8 ([`header_values`] without the
/// `Vec`).
pub(super) fn first_value<'a>(map: &'a HeaderMap, name: &str) -> Option<&'a str> {
    map.get_all(name)
        .iter()
        .find_map(|v| std::str::from_utf8(v.as_bytes()).ok())
}

/// The first value of `name` from `multi`, else from `single` (the first of [`multi_or_single`]).
pub(super) fn first_of<'a>(
    multi: &'a HeaderMap,
    single: &'a HeaderMap,
    name: &str,
) -> Option<&'a str> {
    first_value(multi, name).or_else(|| first_value(single, name))
}

/// All values of `name` from `multi` (API Gateway v1 / ALB `multiValueHeaders`), or from `single`
/// (`headers`) when `multi` has none.
pub(super) fn multi_or_single<'a>(
    multi: &'a HeaderMap,
    single: &'a HeaderMap,
    name: &str,
) -> Vec<&'a str> {
    let values = header_values(multi, name);
    if values.is_empty() {
        header_values(single, name)
    } else {
        values
    }
}

/// The header names of both maps, each once (`HeaderMap` names are lowercase). Never quadratic:
/// for a handful of names a scan of `multi`'s is cheapest, beyond that each name is a hash
/// lookup, so thousands of headers cost no more than they weigh.
pub(super) fn merged_keys<'a>(multi: &'a HeaderMap, single: &'a HeaderMap) -> Vec<&'a str> {
    const SCAN_UP_TO: usize = 32;
    let mut keys: Vec<&'a str> = multi.keys().map(|k| k.as_str()).collect();
    let from_multi = keys.len();
    for k in single.keys() {
        let seen = if from_multi <= SCAN_UP_TO {
            keys[..from_multi].contains(&k.as_str())
        } else {
            multi.contains_key(k)
        };
        if !seen {
            keys.push(k.as_str());
        }
    }
    keys
}

/// The raw request fields an event gives, before cleaning and capping.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct RawHttp<'a> {
    /// `GET`, `POST`, …
    pub(super) method: Option<&'a str>,
    /// The request path; anything from a `?` on is dropped (query strings may hold tokens).
    pub(super) path: Option<&'a str>,
    /// The route template (`/orders/{id}`).
    pub(super) route: Option<&'a str>,
    /// The user agent (request context first, else the `User-Agent` header).
    pub(super) user_agent: Option<&'a str>,
    /// The address the front door saw (API Gateway `sourceIp`).
    pub(super) source_ip: Option<&'a str>,
    /// The `X-Forwarded-For` header, used when `source_ip` is absent or not an IP address.
    pub(super) forwarded_for: Option<&'a str>,
}

impl RawHttp<'_> {
    /// Cleans and caps every field.
    pub(super) fn into_info(self) -> HttpRequestInfo {
        let (client_ip, x_forwarded_for) = match self.source_ip.and_then(client_ip) {
            Some(ip) => (Some(ip), false),
            None => match self.forwarded_for.and_then(first_forwarded_for) {
                Some(ip) => (Some(ip), true),
                None => (None, false),
            },
        };
        HttpRequestInfo {
            method: self.method.and_then(|m| capped(m, MAX_METHOD_CHARS)),
            url: self.path.and_then(url_path),
            route: self.route.and_then(|r| capped(r, MAX_ROUTE_CHARS)),
            user_agent: self
                .user_agent
                .and_then(|ua| capped(ua, MAX_USER_AGENT_CHARS)),
            client_ip,
            x_forwarded_for,
        }
    }
}

/// Applies the caps of [`RawHttp::into_info`] to request data a carrier made (the user's own
/// carriers' too): text cut to its length, the URL without query string or fragment, a client IP
/// only when it is an IP address. Values the built-in carriers made pass unchanged.
pub(super) fn cap_info(http: &mut HttpRequestInfo) {
    let cap = |field: &mut Option<String>, max: usize| {
        if let Some(v) = field.as_deref()
            && (v.len() > max || v.trim().len() != v.len() || v.is_empty())
        {
            *field = capped(v, max);
        }
    };
    cap(&mut http.method, MAX_METHOD_CHARS);
    cap(&mut http.route, MAX_ROUTE_CHARS);
    cap(&mut http.user_agent, MAX_USER_AGENT_CHARS);
    if let Some(url) = http.url.as_deref()
        && (url.len() > MAX_URL_CHARS || url.contains(['?', '#']) || url.trim().len() != url.len())
    {
        http.url = url_path(url);
    }
    if let Some(ip) = http.client_ip.as_deref()
        && ip.parse::<IpAddr>().is_err()
    {
        http.client_ip = client_ip(ip);
    }
}

/// `s` trimmed, cut to at most `max` characters on a char boundary; `None` when empty.
pub(super) fn capped(s: &str, max: usize) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    // No more bytes than `max` means no more chars: skip the count.
    let end = if s.len() <= max {
        s.len()
    } else {
        s.char_indices().nth(max).map_or(s.len(), |(i, _)| i)
    };
    Some(s[..end].to_string())
}

/// The path without query string or fragment, capped to [`MAX_URL_CHARS`].
fn url_path(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    capped(path, MAX_URL_CHARS)
}

/// The route template of an HTTP API route key: `GET /orders/{id}` → `/orders/{id}`,
/// `ANY /{proxy+}` → `/{proxy+}`, `/orders` → `/orders`; `$default` (and WebSocket keys such as
/// `$connect`) → `None`.
pub(super) fn route_from_key(key: &str) -> Option<&str> {
    let key = key.trim();
    if key.starts_with('/') {
        return Some(key);
    }
    let (_method, path) = key.split_once(' ')?;
    let path = path.trim_start();
    path.starts_with('/').then_some(path)
}

/// `s` when it is an IP address (or `ip:port` / `[ipv6]:port`, of which the IP is kept).
/// Anything else (`unknown`, console test values such as `test-invoke-source-ip`, junk) is `None`:
/// a client IP is recorded only when it is one.
fn client_ip(s: &str) -> Option<String> {
    let s = s.trim();
    // Already an address: keep the text (formatting the parsed address again costs more than
    // the parse).
    if s.parse::<IpAddr>().is_ok() {
        return Some(s.to_string());
    }
    s.parse::<SocketAddr>().ok().map(|a| a.ip().to_string())
}

/// The first (client-most) entry of an `X-Forwarded-For` list, when it is an IP address.
fn first_forwarded_for(xff: &str) -> Option<String> {
    xff.split(',').next().and_then(client_ip)
}

/// `Extractor` for an event that carries its headers twice, as API Gateway v1 and ALB do:
/// `multiValueHeaders` (every value, read first) and `headers` (one value per name).
macro_rules! two_header_maps_extractor {
    ($event:ty) => {
        impl $crate::propagation::Extractor for $event {
            fn get(&self, name: &str) -> Option<&str> {
                super::request::first_of(&self.multi_value_headers, &self.headers, name)
            }

            fn get_all(&self, name: &str) -> Vec<&str> {
                super::request::multi_or_single(&self.multi_value_headers, &self.headers, name)
            }

            fn keys(&self) -> Vec<&str> {
                super::request::merged_keys(&self.multi_value_headers, &self.headers)
            }

            fn has_key_with_prefix(&self, prefix: &str) -> bool {
                $crate::propagation::header_map_has_prefix(
                    &[&self.multi_value_headers, &self.headers],
                    prefix,
                )
            }
        }
    };
}
pub(super) use two_header_maps_extractor;

/// The query string of an event with `multiValueQueryStringParameters` (read when present) and
/// `queryStringParameters`, rebuilt sorted by key; `decoded`: the values were decoded by the
/// service and are re-encoded.
pub(super) fn query_of<'a>(
    multi: &'a aws_lambda_events::query_map::QueryMap,
    single: &'a aws_lambda_events::query_map::QueryMap,
    decoded: bool,
) -> Option<std::borrow::Cow<'a, str>> {
    let map = if multi.is_empty() { single } else { multi };
    crate::redact::query_from_pairs(map.iter(), decoded).map(std::borrow::Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_on_char_boundaries() {
        let long = "é".repeat(MAX_USER_AGENT_CHARS + 10);
        let ua = capped(&long, MAX_USER_AGENT_CHARS).unwrap();
        assert_eq!(ua.chars().count(), MAX_USER_AGENT_CHARS);
        assert_eq!(capped("  ", 10), None);
        assert_eq!(capped(" GET ", 10).as_deref(), Some("GET"));
    }

    #[test]
    fn urls_lose_query_and_fragment() {
        assert_eq!(url_path("/ot-gen?token=secret").as_deref(), Some("/ot-gen"));
        assert_eq!(url_path("/a#frag").as_deref(), Some("/a"));
        assert_eq!(url_path("?only=query"), None);
        let long = format!("/{}", "x".repeat(5000));
        assert_eq!(url_path(&long).unwrap().len(), MAX_URL_CHARS);
    }

    #[test]
    fn request_data_of_any_carrier_is_capped() {
        let mut http =
            HttpRequestInfo::new("G".repeat(100), format!("/{}?token=s#f", "p".repeat(3000)))
                .with_route(" /r ")
                .with_user_agent("u".repeat(1000))
                .with_client_ip("not an ip", false);
        cap_info(&mut http);
        assert_eq!(http.method.as_ref().unwrap().len(), MAX_METHOD_CHARS);
        let url = http.url.as_deref().unwrap();
        assert!(
            !url.contains('?') && url.len() == MAX_URL_CHARS,
            "{}",
            url.len()
        );
        assert_eq!(http.route.as_deref(), Some("/r"));
        assert_eq!(
            http.user_agent.as_ref().unwrap().len(),
            MAX_USER_AGENT_CHARS
        );
        assert_eq!(http.client_ip, None);
        let built = RawHttp {
            method: Some("GET"),
            path: Some("/orders?x=1"),
            source_ip: Some("192.0.2.1:443"),
            ..RawHttp::default()
        }
        .into_info();
        let mut again = built.clone();
        cap_info(&mut again);
        assert_eq!(again, built, "built-in values pass unchanged");
    }

    #[test]
    fn route_keys() {
        assert_eq!(route_from_key("GET /orders/{id}"), Some("/orders/{id}"));
        assert_eq!(route_from_key("ANY /{proxy+}"), Some("/{proxy+}"));
        assert_eq!(route_from_key("/orders"), Some("/orders"));
        assert_eq!(route_from_key("$default"), None);
        assert_eq!(route_from_key("$connect"), None);
        assert_eq!(route_from_key(""), None);
    }

    #[test]
    fn client_ips() {
        let info = |source_ip, forwarded_for| {
            RawHttp {
                source_ip,
                forwarded_for,
                ..RawHttp::default()
            }
            .into_info()
        };
        let i = info(Some("192.0.2.1"), Some("198.51.100.1"));
        assert_eq!(
            (i.client_ip.as_deref(), i.x_forwarded_for),
            (Some("192.0.2.1"), false)
        );
        let i = info(
            Some("test-invoke-source-ip"),
            Some(" 198.51.100.1 , 10.0.0.1"),
        );
        assert_eq!(
            (i.client_ip.as_deref(), i.x_forwarded_for),
            (Some("198.51.100.1"), true)
        );
        let i = info(None, Some("[2001:db8::1]:443, 10.0.0.1"));
        assert_eq!(i.client_ip.as_deref(), Some("2001:db8::1"));
        let i = info(None, Some("unknown, 10.0.0.1"));
        assert_eq!((i.client_ip, i.x_forwarded_for), (None, false));
    }

    #[test]
    fn multi_value_map_wins_and_keys_are_merged() {
        let mut multi = HeaderMap::new();
        multi.append("traceparent", "a".parse().unwrap());
        multi.append("traceparent", "b".parse().unwrap());
        let mut single = HeaderMap::new();
        single.insert("traceparent", "b".parse().unwrap());
        single.insert("b3", "0".parse().unwrap());
        assert_eq!(multi_or_single(&multi, &single, "traceparent"), ["a", "b"]);
        assert_eq!(multi_or_single(&multi, &single, "b3"), ["0"]);
        assert!(multi_or_single(&multi, &single, "bad name").is_empty());
        assert_eq!(merged_keys(&multi, &single), ["traceparent", "b3"]);
    }
}
