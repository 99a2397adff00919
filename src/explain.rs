//! `--explain`: one event per real setup step, emitted by the code doing the step.
//! Off by default and then free: a single relaxed atomic load per call site.
//!
//! Text mode prints `[   1.5 ms] pivot_root  ...` lines, JSON mode one object per line
//! (`{"ms":1.5,"step":"pivot_root","detail":"..."}`), both on stderr. The teardown steps
//! also leave facts for the last line (`exit`): the cgroup's peak memory and what was
//! removed, so the narration ends with one summary of the container's life.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

static MODE: AtomicU8 = AtomicU8::new(0);
static START: OnceLock<Instant> = OnceLock::new();
static SUMMARY: Mutex<Summary> = Mutex::new(Summary {
    peak_memory: None,
    oom_kills: 0,
    removed: Vec::new(),
});

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
    let line = if mode == Mode::Json as u8 {
        json_line(ms, kind, &detail)
    } else {
        text_line(ms, kind, &detail)
    };
    // Narration never changes the outcome: a stderr that cannot be written (a closed pipe,
    // a full disk) turns narration off, it never fails or interrupts setup or teardown.
    let mut err = std::io::stderr().lock();
    if writeln!(err, "{line}").is_err() {
        MODE.store(0, Ordering::Relaxed);
    }
}

fn text_line(ms: f64, kind: &str, detail: &str) -> String {
    format!("[{ms:>6.1} ms] {kind:<11} {detail}")
}

fn json_line(ms: f64, kind: &str, detail: &str) -> String {
    serde_json::json!({"ms": (ms * 10.0).round() / 10.0, "step": kind, "detail": detail})
        .to_string()
}

/// What teardown found out, for the final `exit` line.
#[derive(Debug, Default)]
struct Summary {
    peak_memory: Option<u64>,
    oom_kills: u64,
    removed: Vec<String>,
}

fn with_summary(f: impl FnOnce(&mut Summary)) {
    if !enabled() {
        return;
    }
    // A poisoned lock only means another thread panicked mid-record: the data is still usable.
    let mut s = SUMMARY.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut s);
}

/// The cgroup's peak memory and OOM kills, read just before it is removed.
pub fn record_cgroup_end(peak_memory: Option<u64>, oom_kills: u64) {
    with_summary(|s| {
        s.peak_memory = peak_memory;
        s.oom_kills = oom_kills;
    });
}

/// One thing teardown removed ("removed cgroup", "unmounted overlay", ...).
pub fn record_removed(what: impl Into<String>) {
    let what = what.into();
    with_summary(|s| {
        if !s.removed.contains(&what) {
            s.removed.push(what);
        }
    });
}

/// The last event of a run: the exit status, the cgroup's peak memory, OOM kills, and
/// everything teardown removed. `also` adds what the caller itself removed
/// (e.g. "deleted container", "removed 1 anonymous volume").
pub fn exit(status: i32, also: &[&str]) {
    if !enabled() {
        return;
    }
    for a in also {
        record_removed(*a);
    }
    let s = SUMMARY.lock().unwrap_or_else(|e| e.into_inner());
    let detail = exit_detail(status, &s);
    drop(s);
    step("exit", || detail);
}

fn exit_detail(status: i32, s: &Summary) -> String {
    let mut out = format!("status {status}");
    if (129..=128 + 64).contains(&status) {
        out.push_str(&format!(" (killed by signal {})", status - 128));
    }
    match s.peak_memory {
        Some(p) => out.push_str(&format!("; cgroup peak memory {}", kib(p))),
        None => out.push_str("; cgroup peak memory unknown"),
    }
    if s.oom_kills > 0 {
        out.push_str(&format!("; OOM killer struck {} time(s)", s.oom_kills));
    }
    if !s.removed.is_empty() {
        out.push_str("; ");
        out.push_str(&s.removed.join(", "));
    }
    out
}

/// Bytes as KiB (or MiB above 10 MiB), the way a learner compares them with a limit.
pub fn kib(bytes: u64) -> String {
    if bytes >= 10 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// Paths below /sys/fs/cgroup grouped the way bash braces write them:
/// `/sys/fs/cgroup/{cpu,pids}/nsbox-1 /sys/fs/cgroup/memory/a/nsbox-1`. On v1 each
/// controller hierarchy has its own directory, usually with the same path inside.
pub fn brace_paths<P: AsRef<std::path::Path>>(dirs: &[P]) -> String {
    const ROOT: &str = "/sys/fs/cgroup/";
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut other = Vec::new();
    for d in dirs {
        let d = d.as_ref().to_string_lossy();
        let Some((hier, rest)) = d.strip_prefix(ROOT).and_then(|r| r.split_once('/')) else {
            other.push(d.into_owned());
            continue;
        };
        match groups.iter_mut().find(|(r, _)| r == rest) {
            Some((_, h)) => h.push(hier.to_string()),
            None => groups.push((rest.to_string(), vec![hier.to_string()])),
        }
    }
    let mut out: Vec<String> = groups
        .into_iter()
        .map(|(rest, h)| match h.as_slice() {
            [one] => format!("{ROOT}{one}/{rest}"),
            _ => format!("{ROOT}{{{}}}/{rest}", h.join(",")),
        })
        .collect();
    out.extend(other);
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_time_step_and_detail() {
        assert_eq!(
            text_line(1.54, "pivot_root", "x"),
            "[   1.5 ms] pivot_root  x"
        );
        let v: serde_json::Value = serde_json::from_str(&json_line(2.26, "exec", "a\"b")).unwrap();
        assert_eq!(v["ms"], 2.3);
        assert_eq!(v["step"], "exec");
        assert_eq!(v["detail"], "a\"b");
    }

    #[test]
    fn exit_line_summarises_teardown() {
        let s = Summary {
            peak_memory: Some(412 * 1024),
            oom_kills: 0,
            removed: vec!["removed cgroup".into(), "unmounted overlay".into()],
        };
        assert_eq!(
            exit_detail(0, &s),
            "status 0; cgroup peak memory 412 KiB; removed cgroup, unmounted overlay"
        );
        let s = Summary {
            peak_memory: Some(32 << 20),
            oom_kills: 1,
            removed: vec![],
        };
        assert_eq!(
            exit_detail(137, &s),
            "status 137 (killed by signal 9); cgroup peak memory 32.0 MiB; OOM killer struck 1 time(s)"
        );
    }

    #[test]
    fn cgroup_dirs_group_like_bash_braces() {
        let dirs = [
            "/sys/fs/cgroup/cpu/nsbox-1",
            "/sys/fs/cgroup/memory/a/b/nsbox-1",
            "/sys/fs/cgroup/pids/nsbox-1",
        ];
        assert_eq!(
            brace_paths(&dirs),
            "/sys/fs/cgroup/{cpu,pids}/nsbox-1 /sys/fs/cgroup/memory/a/b/nsbox-1"
        );
        // v2: one directory, no braces.
        assert_eq!(
            brace_paths(&["/sys/fs/cgroup/test/nsbox-1"]),
            "/sys/fs/cgroup/test/nsbox-1"
        );
    }
}
