//! `--route 'GET /orders/{id}=path/to/binary'`: the user's own function binaries behind the
//! gateway, one process (and Runtime API) per binary.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::stack::FunctionSpec;

/// One `--route` argument: `METHOD /path=binary`, or `/path=binary` for any method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteArg {
    /// An HTTP method, upper case, or `ANY`.
    pub method: String,
    /// The path template, as API Gateway writes it: `/orders/{id}`, `/files/{path+}`.
    pub path: String,
    /// The function binary (relative to the current directory, or absolute).
    pub binary: PathBuf,
}

impl FromStr for RouteArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            format!("--route {s:?}: {why} (expected 'GET /orders/{{id}}=target/debug/orders')")
        };
        let s = s.trim();
        let (method, rest) = match s.split_once(char::is_whitespace) {
            Some((m, rest)) if !m.starts_with('/') => (m, rest.trim_start()),
            _ => ("ANY", s),
        };
        let (path, binary) = rest.split_once('=').ok_or_else(|| bad("no `=binary`"))?;
        let (path, binary) = (path.trim(), binary.trim());
        if !path.starts_with('/') {
            return Err(bad("the path must start with /"));
        }
        if binary.is_empty() {
            return Err(bad("no binary after ="));
        }
        let method = method.to_ascii_uppercase();
        let known = [
            "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
        ];
        if !known.contains(&method.as_str()) {
            return Err(bad(&format!("unknown method {method}")));
        }
        Ok(RouteArg {
            method,
            path: path.to_owned(),
            binary: PathBuf::from(binary),
        })
    }
}

/// The functions serving `routes`: one per distinct binary, named after its file stem (`-2`,
/// `-3`… when two binaries share a stem), with all of that binary's routes, in first-seen order.
pub fn functions(routes: &[RouteArg]) -> Vec<FunctionSpec> {
    let mut specs: Vec<FunctionSpec> = Vec::new();
    for route in routes {
        let pair = (route.method.clone(), route.path.clone());
        if let Some(spec) = specs.iter_mut().find(|s| s.binary == route.binary) {
            spec.routes.push(pair);
            continue;
        }
        let stem = stem(&route.binary);
        let mut name = stem.clone();
        let mut n = 1;
        while specs.iter().any(|s| s.name == name) {
            n += 1;
            name = format!("{stem}-{n}");
        }
        specs.push(FunctionSpec {
            name,
            binary: route.binary.clone(),
            routes: vec![pair],
            env: Vec::new(),
        });
    }
    specs
}

fn stem(binary: &Path) -> String {
    binary
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "function".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(s: &str) -> RouteArg {
        s.parse().unwrap()
    }

    #[test]
    fn parses_method_path_and_binary() {
        assert_eq!(
            route("get /orders/{id}=target/debug/orders"),
            RouteArg {
                method: "GET".into(),
                path: "/orders/{id}".into(),
                binary: "target/debug/orders".into()
            }
        );
        let any = route("/files/{path+}=./bin/files");
        assert_eq!(
            (any.method.as_str(), any.path.as_str()),
            ("ANY", "/files/{path+}")
        );
        assert_eq!(route("ANY  / = x").path, "/");
        for bad in ["GET /orders", "GET orders=x", "FETCH /a=x", "GET /a="] {
            let err = bad.parse::<RouteArg>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn one_function_per_binary() {
        let specs = functions(&[
            route("GET /orders/{id}=target/debug/orders"),
            route("POST /orders=target/debug/orders"),
            route("ANY /users=other/orders"),
        ]);
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].name, "orders");
        assert_eq!(
            specs[0].routes,
            [
                ("GET".to_owned(), "/orders/{id}".to_owned()),
                ("POST".to_owned(), "/orders".to_owned())
            ]
        );
        assert_eq!(specs[1].name, "orders-2");
        assert_eq!(specs[1].binary, PathBuf::from("other/orders"));
    }
}
