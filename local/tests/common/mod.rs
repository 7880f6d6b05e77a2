//! Finding (and building when missing) the binaries the user-function tests run.

use std::path::PathBuf;

/// `target/debug` (or the profile dir) the test binary runs from.
pub fn profile_dir() -> PathBuf {
    // target/debug/deps/<test> → target/debug
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn build(args: &[&str], path: PathBuf) -> PathBuf {
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .arg("build")
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "cargo build {args:?} failed");
    }
    assert!(path.is_file(), "{} missing after the build", path.display());
    path
}

/// An example of this package (`examples/<name>.rs`).
#[allow(dead_code)]
pub fn example(name: &str) -> PathBuf {
    let path = profile_dir()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    build(&["-p", "lambda-trace-local", "--example", name], path)
}

/// A binary of the repo's example functions (`functions/`), standing in for a user's own
/// lambda-trace function.
#[allow(dead_code)]
pub fn user_function(name: &str) -> PathBuf {
    let path = profile_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    build(&["-p", "lambda-trace-functions", "--bin", name], path)
}

/// A fresh random 32-hex trace id and 16-hex span id (never all zeros).
#[allow(dead_code)]
pub fn random_w3c() -> (String, String) {
    (
        format!("{:032x}", fastrand::u128(1..)),
        format!("{:016x}", fastrand::u64(1..)),
    )
}

/// `1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy` of a 32-hex trace id.
#[allow(dead_code)]
pub fn xray_id(hex: &str) -> String {
    format!("1-{}-{}", &hex[..8], &hex[8..])
}
