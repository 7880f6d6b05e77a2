//! Runs a function binary as a real child process wired to a [`RuntimeApi`](crate::RuntimeApi).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// What happens to the child's stdout and stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// Read into in-memory buffers ([`FunctionProcess::stdout`], [`FunctionProcess::stderr`]).
    #[default]
    Captured,
    /// Captured into the buffers *and* copied to this process's stdout/stderr as it arrives.
    Tee,
    /// Inherited: the child writes straight to this process's stdout/stderr.
    Inherit,
}

/// A function process. It is killed when this value is dropped.
#[derive(Debug)]
pub struct FunctionProcess {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl FunctionProcess {
    /// Spawns `binary` with the Lambda environment pointing at `runtime_api`, capturing its
    /// output. See [`FunctionProcess::spawn_with`].
    pub fn spawn(
        binary: &Path,
        runtime_api: SocketAddr,
        env: &[(&str, &str)],
    ) -> io::Result<FunctionProcess> {
        Self::spawn_with(binary, runtime_api, env, Output::Captured)
    }

    /// Spawns `binary` with this process's environment plus `AWS_LAMBDA_RUNTIME_API`,
    /// `AWS_LAMBDA_FUNCTION_NAME` (default `local`), `AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128`,
    /// `AWS_LAMBDA_FUNCTION_VERSION=$LATEST`, `AWS_LAMBDA_LOG_GROUP_NAME`,
    /// `AWS_LAMBDA_LOG_STREAM_NAME` and `AWS_EXECUTION_ENV` set; `AWS_REGION` and
    /// `AWS_DEFAULT_REGION` are kept when set ([`region`]: one fills in the other, `us-east-1`
    /// when neither is). The pairs in `env` are applied last and override all of them.
    pub fn spawn_with(
        binary: &Path,
        runtime_api: SocketAddr,
        env: &[(&str, &str)],
        output: Output,
    ) -> io::Result<FunctionProcess> {
        let name = env
            .iter()
            .rev()
            .find(|(k, _)| *k == "AWS_LAMBDA_FUNCTION_NAME")
            .map(|(_, v)| (*v).to_owned())
            .unwrap_or_else(|| "local".to_owned());
        let mut cmd = Command::new(binary);
        cmd.env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", region(&|k| std::env::var(k).ok()))
            .env(
                "AWS_DEFAULT_REGION",
                std::env::var("AWS_DEFAULT_REGION")
                    .unwrap_or_else(|_| region(&|k| std::env::var(k).ok())),
            )
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("2024/01/01/[$LATEST]{:032x}", fastrand::u128(..)),
            )
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_rust_local")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (out, err) = match output {
            Output::Inherit => (Stdio::inherit(), Stdio::inherit()),
            Output::Captured | Output::Tee => (Stdio::piped(), Stdio::piped()),
        };
        cmd.stdout(out).stderr(err);
        let mut child = cmd.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start function binary {}: {e}", binary.display()),
            )
        })?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let tee = output == Output::Tee;
        if let Some(pipe) = child.stdout.take() {
            tokio::spawn(pump(pipe, stdout.clone(), tee.then_some(Sink::Stdout)));
        }
        if let Some(pipe) = child.stderr.take() {
            tokio::spawn(pump(pipe, stderr.clone(), tee.then_some(Sink::Stderr)));
        }
        Ok(FunctionProcess {
            child,
            stdout,
            stderr,
        })
    }

    /// The child's process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// What the child wrote to stdout so far (empty with [`Output::Inherit`]).
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap_or_else(PoisonError::into_inner))
            .into_owned()
    }

    /// What the child wrote to stderr so far (empty with [`Output::Inherit`]).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(PoisonError::into_inner))
            .into_owned()
    }

    /// Both captured streams, labelled, for failure messages.
    pub fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout(),
            self.stderr()
        )
    }

    /// The exit status if the child has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    /// Kills the child and waits for it to exit.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.child.kill().await
    }
}

/// The region the functions run in: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`
/// (empty values count as unset); `var` reads the environment.
pub fn region(var: &dyn Fn(&str) -> Option<String>) -> String {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|k| var(k).filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "us-east-1".to_owned())
}

#[derive(Clone, Copy)]
enum Sink {
    Stdout,
    Stderr,
}

async fn pump(mut pipe: impl AsyncRead + Unpin, buf: Arc<Mutex<Vec<u8>>>, tee: Option<Sink>) {
    let mut chunk = vec![0u8; 8192];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(&chunk[..n]);
                match tee {
                    Some(Sink::Stdout) => {
                        let _ = tokio::io::stdout().write_all(&chunk[..n]).await;
                    }
                    Some(Sink::Stderr) => {
                        let _ = tokio::io::stderr().write_all(&chunk[..n]).await;
                    }
                    None => {}
                }
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sets_the_lambda_environment_and_captures_output() {
        let api: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let mut p = FunctionProcess::spawn(
            Path::new("/usr/bin/env"),
            api,
            &[("AWS_LAMBDA_FUNCTION_NAME", "router"), ("EXTRA", "1")],
        )
        .unwrap();
        for _ in 0..200 {
            if p.try_wait().unwrap().is_some() && p.stdout().contains("EXTRA") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let out = p.stdout();
        assert!(
            out.contains("AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001"),
            "{out}"
        );
        assert!(out.contains("AWS_LAMBDA_FUNCTION_NAME=router"));
        assert!(out.contains("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/router"));
        assert!(out.contains("AWS_LAMBDA_FUNCTION_VERSION=$LATEST"));
        assert!(out.contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"));
        assert!(out.contains("EXTRA=1"));
    }

    #[test]
    fn region_comes_from_the_environment_first() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(region(&env(&[])), "us-east-1");
        assert_eq!(region(&env(&[("AWS_REGION", "eu-west-3")])), "eu-west-3");
        assert_eq!(
            region(&env(&[("AWS_DEFAULT_REGION", "ap-south-1")])),
            "ap-south-1"
        );
        assert_eq!(
            region(&env(&[
                ("AWS_REGION", ""),
                ("AWS_DEFAULT_REGION", "sa-east-1")
            ])),
            "sa-east-1"
        );
    }

    #[test]
    fn missing_binary_is_a_clear_error() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _g = rt.enter();
        let err = FunctionProcess::spawn(
            Path::new("/nonexistent/router"),
            "127.0.0.1:1".parse().unwrap(),
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/router"));
    }
}
