//! `--template`: a SAM template's functions, routes and binaries, with short-form intrinsics.

use std::path::{Path, PathBuf};

use lambda_trace_local::stack::FunctionSpec;
use lambda_trace_local::template;
use lambda_trace_local::tracing_mode::TracingMode;

/// A fresh folder with empty files standing in for built binaries.
fn bin_dir(names: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lt-local-sam-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    for name in names {
        let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, "").unwrap();
    }
    dir
}

fn find<'a>(specs: &'a [FunctionSpec], name: &str) -> &'a FunctionSpec {
    specs
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no function {name}: {specs:#?}"))
}

const TEMPLATE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Tracing: PassThrough
    Environment:
      Variables:
        SHARED: "1"
        TABLE: !Ref OrdersTable
Resources:
  OrdersTable:
    Type: AWS::DynamoDB::Table
  GetOrderFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      FunctionName: !Sub "${AWS::StackName}-get-order"
      Environment:
        Variables:
          SHARED: "2"
          URL: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${Stage}"
          RETRIES: 3
      Events:
        Get:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /orders/{id}
            Method: get
        Computed:
          Type: Api
          Properties:
            Path: !Sub "/${Stage}/x"
            Method: get
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
  Catchall:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: api-handler
    Properties:
      Role: !GetAtt Role.Arn
      Events:
        All:
          Type: HttpApi
  Prebuilt:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: prebuilt/
      Events:
        Any:
          Type: HttpApi
          Properties: {Path: "/files/{path+}", Method: ANY}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Tick: {Type: Schedule, Properties: {Schedule: rate(1 minute)}}
"#;

#[test]
fn maps_a_template_with_intrinsics() {
    let dir = bin_dir(&["get-order", "api-handler", "prebuilt/bootstrap"]);
    let t = template::parse(TEMPLATE, &dir, &dir).unwrap();
    let names: Vec<&str> = t.functions.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["GetOrderFunction", "Catchall", "Prebuilt"]);
    assert_eq!(t.tracing, Some(TracingMode::PassThrough));

    let get = find(&t.functions, "GetOrderFunction");
    assert_eq!(get.routes, [("GET".to_owned(), "/orders/{id}".to_owned())]);
    assert_eq!(
        get.binary,
        dir.join(format!("get-order{}", std::env::consts::EXE_SUFFIX))
    );
    let env: Vec<(&str, &str)> = get
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, [("SHARED", "2"), ("RETRIES", "3")]);

    let all = find(&t.functions, "Catchall");
    assert_eq!(all.routes, [("ANY".to_owned(), "/{proxy+}".to_owned())]);
    assert!(
        all.binary
            .ends_with(format!("api-handler{}", std::env::consts::EXE_SUFFIX))
    );
    assert_eq!(
        find(&t.functions, "Prebuilt").binary,
        dir.join("prebuilt/bootstrap")
    );

    let notes = t.notes.join("\n");
    for expected in ["TABLE", "URL", "Computed", "Worker"] {
        assert!(notes.contains(expected), "{expected}: {notes}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn maps_the_repos_own_template() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let dir = bin_dir(&["router", "downstream", "order"]);
    let t = template::load(&path, &dir).unwrap();
    let routes: Vec<(&str, &str, &str, PathBuf)> = t
        .functions
        .iter()
        .flat_map(|s| {
            s.routes.iter().map(|(m, p)| {
                (
                    s.name.as_str(),
                    m.as_str(),
                    p.as_str(),
                    s.binary.strip_prefix(&dir).unwrap().to_path_buf(),
                )
            })
        })
        .collect();
    let exe = |n: &str| PathBuf::from(format!("{n}{}", std::env::consts::EXE_SUFFIX));
    assert_eq!(
        routes,
        [
            ("RouterFunction", "GET", "/ot-gen", exe("router")),
            (
                "DownstreamFunction",
                "POST",
                "/downstream",
                exe("downstream")
            ),
            ("OrderFunction", "POST", "/orders", exe("order")),
        ]
    );
    assert_eq!(t.tracing, Some(TracingMode::Active));
    let router = find(&t.functions, "RouterFunction");
    assert_eq!(
        router.env,
        [("OTEL_SERVICE_NAME".to_owned(), "router".to_owned())]
    );
    assert!(
        t.notes.join("\n").contains("DOWNSTREAM_URL"),
        "{:?}",
        t.notes
    );

    // Without the binaries: an error naming what was looked for.
    let empty = bin_dir(&[]);
    let err = template::load(&path, &empty).unwrap_err();
    assert!(err.contains("RouterFunction"), "{err}");
    assert!(
        err.contains(&empty.join("router").display().to_string()),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(empty).unwrap();
}
