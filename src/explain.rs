//! `--explain`: one event per real setup step, emitted by the code doing the step.
//! Off by default and then free: a single relaxed atomic load per call site.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static MODE: AtomicU8 = AtomicU8::new(0);
static START: OnceLock<Instant> = OnceLock::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Text = 1,
    Json = 2,
}

pub fn enable(mode: Mode) {
    START.get_or_init(Instant::now);
    MODE.store(mode as u8, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    MODE.load(Ordering::Relaxed) != 0
}

/// Emit one step. `detail` is built lazily so a disabled explain costs nothing.
pub fn step(kind: &str, detail: impl FnOnce() -> String) {
    let mode = MODE.load(Ordering::Relaxed);
    if mode == 0 {
        return;
    }
    let ms = START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0;
    let detail = detail();
    if mode == Mode::Json as u8 {
        let line =
            serde_json::json!({"ms": (ms * 10.0).round() / 10.0, "step": kind, "detail": detail});
        eprintln!("{line}");
    } else {
        eprintln!("[{ms:>6.1} ms] {kind:<11} {detail}");
    }
}
