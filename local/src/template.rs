//! `--template template.yaml`: the functions and API routes of a SAM template.
//!
//! Each `AWS::Serverless::Function` with `Events` of type `Api` or `HttpApi` becomes a
//! [`FunctionSpec`]: its routes are the events' `Path` and `Method` (`HttpApi` without them: the
//! catch-all `ANY /{proxy+}`), its environment the plain values of `Environment.Variables`
//! (`Globals.Function` first), its name `FunctionName` when it is a plain string, else the logical
//! id. Its binary is the first that exists of:
//!
//! 1. `Metadata.BuildProperties.Binary` in the bin dir (cargo-lambda's `rust-cargolambda` build);
//! 2. `CodeUri/Handler`, relative to the template's folder (a prebuilt `bootstrap`);
//! 3. `Handler` in the bin dir, when it is not `bootstrap`;
//! 4. the logical id in kebab and snake case, with and without a `Function` suffix, in the bin
//!    dir (`OrderFunction`: `order-function`, `order_function`, `order`).
//!
//! Short-form intrinsics (`!Ref`, `!Sub`, `!GetAtt`, `!If`…) parse as tagged values; where one
//! stands for a value read here, that value counts as absent (an event path, an environment
//! variable: left out, with a note).

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use crate::stack::FunctionSpec;
use crate::tracing_mode::TracingMode;

/// What a template gives the stand-in.
#[derive(Debug, Clone, Default)]
pub struct Template {
    /// The functions with API routes, in template order.
    pub functions: Vec<FunctionSpec>,
    /// The template's tracing mode (`Globals.Function.Tracing`), if it names one.
    pub tracing: Option<TracingMode>,
    /// What was left out, and why (functions without API events, intrinsic values).
    pub notes: Vec<String>,
}

/// Reads and maps the template at `path`; binaries are looked for in `bin_dir`.
pub fn load(path: &Path, bin_dir: &Path) -> Result<Template, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    parse(&text, dir, bin_dir).map_err(|e| format!("{}: {e}", path.display()))
}

/// Maps a template's text; `CodeUri` is relative to `template_dir`.
pub fn parse(text: &str, template_dir: &Path, bin_dir: &Path) -> Result<Template, String> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or("no Resources mapping")?;
    let globals = doc.get("Globals").and_then(|g| g.get("Function"));
    let global = |key: &str| field(globals, None, key);
    let mut template = Template {
        tracing: global("Tracing")
            .and_then(plain)
            .and_then(|t| t.parse().ok()),
        ..Template::default()
    };
    for (id, resource) in resources {
        let Some(id) = plain(id) else { continue };
        if resource.get("Type").and_then(plain) != Some("AWS::Serverless::Function") {
            continue;
        }
        let props = resource.get("Properties");
        let routes = routes(id, props, &mut template.notes);
        if routes.is_empty() {
            template
                .notes
                .push(format!("{id}: no Api or HttpApi event, not started"));
            continue;
        }
        let prop = |key| field(props, globals, key);
        let handler = prop("Handler").and_then(plain);
        let code_uri = prop("CodeUri").and_then(plain);
        let binary = binary(id, resource, handler, code_uri, template_dir, bin_dir)?;
        let mut env = Vec::new();
        for vars in [
            global("Environment"),
            props.and_then(|p| p.get("Environment")),
        ] {
            let vars = vars
                .and_then(|e| e.get("Variables"))
                .and_then(Value::as_mapping);
            for (k, v) in vars.into_iter().flatten() {
                let Some(k) = plain(k) else { continue };
                match scalar(v) {
                    Some(v) => {
                        env.retain(|(name, _): &(String, String)| name != k);
                        env.push((k.to_owned(), v));
                    }
                    None => template
                        .notes
                        .push(format!("{id}: {k} is not a plain value, not set")),
                }
            }
        }
        let name = props
            .and_then(|p| p.get("FunctionName"))
            .and_then(plain)
            .unwrap_or(id)
            .to_owned();
        template.functions.push(FunctionSpec {
            name,
            binary,
            routes,
            env,
        });
    }
    Ok(template)
}

/// `key` of the function's `Properties`, else of `Globals.Function`.
fn field<'a>(props: Option<&'a Value>, globals: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    props
        .and_then(|p| p.get(key))
        .or_else(|| globals.and_then(|g| g.get(key)))
}

/// A plain string. (`Value::as_str` looks through tags: `!Sub "x"` would read as `x`.)
fn plain(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// A string, number or boolean as text; `None` for intrinsics, null, lists and maps.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn routes(id: &str, props: Option<&Value>, notes: &mut Vec<String>) -> Vec<(String, String)> {
    let events = props
        .and_then(|p| p.get("Events"))
        .and_then(Value::as_mapping);
    let mut routes = Vec::new();
    for (name, event) in events.into_iter().flatten() {
        let kind = event.get("Type").and_then(plain).unwrap_or("");
        if kind != "Api" && kind != "HttpApi" {
            continue;
        }
        let ep = event.get("Properties");
        let field = |k: &str| ep.and_then(|p| p.get(k));
        let (path, method) = match (field("Path"), field("Method")) {
            (None, None) if kind == "HttpApi" => (Some("/{proxy+}".to_owned()), Some("ANY".into())),
            (p, m) => (p.and_then(scalar), m.and_then(scalar)),
        };
        match (path, method) {
            (Some(path), Some(method)) if path.starts_with('/') => {
                routes.push((method.to_ascii_uppercase(), path));
            }
            _ => notes.push(format!(
                "{id}: event {} has no plain Path and Method, left out",
                scalar(name).unwrap_or_default()
            )),
        }
    }
    routes
}

fn binary(
    id: &str,
    resource: &Value,
    handler: Option<&str>,
    code_uri: Option<&str>,
    template_dir: &Path,
    bin_dir: &Path,
) -> Result<PathBuf, String> {
    let exe = |name: &str| bin_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mut candidates = Vec::new();
    if let Some(b) = resource
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(plain)
    {
        candidates.push(exe(b));
    }
    if let (Some(code), Some(handler)) = (code_uri, handler) {
        candidates.push(template_dir.join(code).join(handler));
    }
    if let Some(h) = handler.filter(|h| *h != "bootstrap") {
        candidates.push(exe(h));
    }
    let base = id.strip_suffix("Function").filter(|b| !b.is_empty());
    for word in std::iter::once(id).chain(base) {
        candidates.push(exe(&cased(word, '-')));
        candidates.push(exe(&cased(word, '_')));
    }
    candidates.dedup();
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or_else(|| {
            let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
            format!(
                "function {id}: no binary found; looked for {} (build it first, or pass --bin-dir)",
                looked.join(", ")
            )
        })
}

/// `OrderFunction` → `order-function` (`sep` `-`) or `order_function`.
fn cased(id: &str, sep: char) -> String {
    let mut out = String::new();
    for (i, c) in id.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(sep);
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_variants() {
        assert_eq!(cased("OrderFunction", '-'), "order-function");
        assert_eq!(cased("OrderFunction", '_'), "order_function");
        assert_eq!(cased("api", '-'), "api");
    }

    #[test]
    fn a_missing_binary_names_what_was_looked_for() {
        let text = "Resources:\n  OrderFunction:\n    Type: AWS::Serverless::Function\n    \
                    Properties:\n      Handler: bootstrap\n      Events:\n        A:\n          \
                    Type: Api\n          Properties: {Path: /orders, Method: post}\n";
        let err = parse(text, Path::new("."), Path::new("/nonexistent")).unwrap_err();
        for looked in ["order-function", "order_function", "/nonexistent/order"] {
            assert!(err.contains(looked), "{err}");
        }
        assert!(err.contains("OrderFunction"), "{err}");
    }
}
