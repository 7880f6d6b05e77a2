//! `lambda-trace-local`: run traced Lambda functions locally and print their trace.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("lambda-trace-local: the CLI is not implemented yet");
    std::process::exit(2);
}
