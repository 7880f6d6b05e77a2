//! [`Extractor`] and [`Injector`] for `HashMap` and `http::HeaderMap`.

use std::collections::HashMap;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::{Extractor, Injector, starts_with_ignore_case};

/// Reads headers from an [`http::HeaderMap`] (names are case-insensitive there already).
#[derive(Debug, Clone, Copy)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        self.0
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        super::header_map_has_prefix(&[self.0], prefix)
    }

    /// The names in one pass (no list of every name first), each value list a hash lookup.
    fn for_each_with_prefix(&self, prefix: &str, max: usize, visit: &mut dyn FnMut(&str, &[&str])) {
        for name in self
            .0
            .keys()
            .map(HeaderName::as_str)
            .filter(|k| starts_with_ignore_case(k, prefix))
            .take(max)
        {
            visit(name, &self.get_all(name));
        }
    }
}

/// Writes headers into an [`http::HeaderMap`]; values that are not valid header values are
/// skipped (they cannot occur for values this crate formats).
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, name: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Case-insensitive reads from a map whose keys may have any case (as event JSON has them).
impl<S: std::hash::BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        if let Some(v) = HashMap::get(self, name) {
            return Some(v);
        }
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        HashMap::keys(self).map(String::as_str).collect()
    }

    /// One pass over the entries: each key's own value is what `get` finds for it (an exact
    /// match comes first), so no name is looked up.
    fn for_each_with_prefix(&self, prefix: &str, max: usize, visit: &mut dyn FnMut(&str, &[&str])) {
        for (name, value) in self
            .iter()
            .filter(|(k, _)| starts_with_ignore_case(k, prefix))
            .take(max)
        {
            visit(name, &[value.as_str()]);
        }
    }
}

/// Inserts lowercase keys.
impl<S: std::hash::BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, name: &str, value: String) {
        self.insert(name.to_ascii_lowercase(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_map_reads_case_insensitively_and_all_values() {
        let mut h = HeaderMap::new();
        h.append("TraceParent", HeaderValue::from_static("a"));
        h.append("traceparent", HeaderValue::from_static("b"));
        let ex = HeaderExtractor(&h);
        assert_eq!(ex.get("traceparent"), Some("a"));
        assert_eq!(ex.get_all("traceparent"), vec!["a", "b"]);
        assert_eq!(ex.keys(), vec!["traceparent"]);
    }

    #[test]
    fn hash_map_reads_any_case() {
        let mut m = HashMap::new();
        m.insert("X-Amzn-Trace-Id".to_string(), "Root=1".to_string());
        assert_eq!(Extractor::get(&m, "x-amzn-trace-id"), Some("Root=1"));
        Injector::set(&mut m, "B3", "0".into());
        assert_eq!(m.get("b3").map(String::as_str), Some("0"));
    }

    #[test]
    fn injector_skips_invalid_values() {
        let mut h = HeaderMap::new();
        HeaderInjector(&mut h).set("b3", "bad\nvalue".into());
        assert!(h.is_empty());
    }
}
