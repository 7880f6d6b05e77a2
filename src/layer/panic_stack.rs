//! The stack of a panic inside an invocation, and of an error whose `Debug` text carries a
//! backtrace (`anyhow` with `RUST_BACKTRACE=1`), as [`StackFrame`]s for X-Ray's
//! `cause.exceptions[].stack` and OTLP's `exception.stacktrace`.
//!
//! A panic's payload has no stack, and stable Rust cannot read a `Backtrace` out of a
//! `dyn Error`, so: [`install`] adds a panic hook (once per process, in front of the hook that
//! was there, which still runs) that captures the stack of a panic raised while an invocation
//! is current, on that thread; the layer's `catch_unwind` on the same thread [`take`]s it.
//! Panics outside invocations cost nothing more. A binary built with `strip = true` has no
//! symbols: its frames read `<unknown>` (X-Ray still shows how deep the panic was).

use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::sync::Once;

use crate::span::StackFrame;

/// Most frames kept per stack.
pub(crate) const MAX_STACK_FRAMES: usize = 64;
/// Longest label or path kept, in characters.
const MAX_FRAME_TEXT: usize = 256;

thread_local! {
    static LAST_PANIC: RefCell<Option<Backtrace>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// Installs the panic hook that keeps the stack of a panic raised inside an invocation.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if crate::span::task_span().span_id().is_some() {
                let stack = Backtrace::force_capture();
                let _ = LAST_PANIC.try_with(|last| {
                    if let Ok(mut last) = last.try_borrow_mut() {
                        *last = Some(stack);
                    }
                });
            }
            previous(info);
        }));
    });
}

/// The frames of the panic this thread raised last inside an invocation (taken: a second call
/// gives nothing).
pub(crate) fn take() -> Vec<StackFrame> {
    let stack = LAST_PANIC
        .try_with(|last| last.try_borrow_mut().ok().and_then(|mut l| l.take()))
        .ok()
        .flatten();
    stack.map_or_else(Vec::new, |s| frames(&s.to_string(), true))
}

/// The frames of a backtrace in the `Display` form of `std::backtrace::Backtrace` (which
/// `anyhow` prints after `Stack backtrace:`), innermost first. With `from_panic`, the frames of
/// the panic machinery before the frame that panicked are left out; frames from the layer's own
/// future on (the runtime's) always are.
pub(crate) fn frames(text: &str, from_panic: bool) -> Vec<StackFrame> {
    let mut frames: Vec<StackFrame> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(location) = trimmed.strip_prefix("at ") {
            if let Some(frame) = frames.last_mut()
                && frame.path.is_none()
            {
                let (path, line) = split_location(location);
                frame.path = Some(capped(path));
                frame.line = line;
            }
            continue;
        }
        let Some((number, label)) = trimmed.split_once(": ") else {
            continue;
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if label.contains("lambda_trace::layer::future::") {
            break;
        }
        frames.push(StackFrame {
            label: capped(label),
            path: None,
            line: None,
        });
    }
    if from_panic
        && let Some(last_machinery) = frames.iter().rposition(|f| is_panic_machinery(&f.label))
    {
        frames.drain(..=last_machinery);
    }
    frames.truncate(MAX_STACK_FRAMES);
    frames
}

/// The frames an error's `Debug` text carries after `Stack backtrace:` (`anyhow`'s form).
pub(crate) fn frames_in_debug(text: &str) -> Vec<StackFrame> {
    text.split_once("Stack backtrace:")
        .map_or_else(Vec::new, |(_, rest)| frames(rest, false))
}

fn is_panic_machinery(label: &str) -> bool {
    let label = label.trim_start_matches("__rustc::");
    label.starts_with("std::panicking::")
        || label.starts_with("core::panicking::")
        || label.starts_with("std::backtrace")
        || label.starts_with("rust_begin_unwind")
        || label.starts_with("std::sys::backtrace::__rust_end_short_backtrace")
        || label.starts_with("std::rt::")
        || label.contains("lambda_trace::layer::panic_stack::")
        || label.starts_with("<alloc::boxed::Box<F,A> as core::ops::function::Fn")
}

/// `src/lib.rs:12:5` → (`src/lib.rs`, 12).
fn split_location(location: &str) -> (&str, Option<u32>) {
    let mut parts = location.rsplitn(3, ':');
    let (column, line, path) = (parts.next(), parts.next(), parts.next());
    match (path, line.and_then(|l| l.parse().ok()), column) {
        (Some(path), Some(line), Some(_)) => (path, Some(line)),
        _ => (location, None),
    }
}

fn capped(text: &str) -> String {
    text.chars().take(MAX_FRAME_TEXT).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PANIC: &str = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/abc/library/std/src/backtrace.rs:312:9
   1: lambda_trace::layer::panic_stack::install::{{closure}}
             at ./src/layer/panic_stack.rs:35:29
   2: std::panicking::rust_panic_with_hook
             at /rustc/abc/library/std/src/panicking.rs:842:13
   3: __rustc::rust_begin_unwind
   4: core::panicking::panic_fmt
             at /rustc/abc/library/core/src/panicking.rs:75:14
   5: orders::handler::{{closure}}
             at ./src/main.rs:14:9
   6: <orders::Service as tower::Service>::call
   7: <lambda_trace::layer::future::TraceFuture<F> as core::future::future::Future>::poll
             at ./src/layer/future.rs:130:66
   8: tokio::runtime::task::harness::poll_future
";

    #[test]
    fn a_panic_stack_starts_at_the_frame_that_panicked_and_ends_at_the_layer() {
        assert_eq!(
            frames(PANIC, true),
            [
                StackFrame {
                    label: "orders::handler::{{closure}}".into(),
                    path: Some("./src/main.rs".into()),
                    line: Some(14),
                },
                StackFrame {
                    label: "<orders::Service as tower::Service>::call".into(),
                    path: None,
                    line: None,
                },
            ]
        );
    }

    #[test]
    fn stripped_binaries_give_unknown_frames_and_stacks_are_capped() {
        let text: String = (0..200).map(|i| format!("  {i}: <unknown>\n")).collect();
        let kept = frames(&text, true);
        assert_eq!(kept.len(), MAX_STACK_FRAMES);
        assert!(
            kept.iter()
                .all(|f| f.label == "<unknown>" && f.path.is_none())
        );
    }

    #[test]
    fn an_anyhow_debug_text_gives_its_frames() {
        let text = "connection refused\n\nStack backtrace:\n   0: orders::load\n             at ./src/db.rs:9:5\n";
        let kept = frames_in_debug(text);
        assert_eq!(kept[0].label, "orders::load");
        assert_eq!(kept[0].line, Some(9));
        assert!(frames_in_debug("no stack here").is_empty());
        // Hostile text: no panic, nothing absurd.
        for junk in [
            "",
            ":",
            "1:",
            "at ",
            "Stack backtrace:\nat x:y:z\n 9999999999: a",
        ] {
            let _ = frames_in_debug(junk);
            let _ = frames(junk, true);
        }
    }
}
