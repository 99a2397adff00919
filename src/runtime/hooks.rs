//! OCI hooks that run in the runtime's namespaces: `prestart` and `createRuntime` once the
//! container is built (before `create` returns), `poststart` after `start`, `poststop` on
//! `delete`. Each gets the container's state JSON on stdin, its own args and env, and
//! `timeout` seconds (a hook still running then is killed and is an error).
//! `createContainer` and `startContainer` (run inside the container) are refused by
//! `unsupported::check`.

use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{kind} hook {path}: {err}")]
    Spawn {
        kind: &'static str,
        path: String,
        err: std::io::Error,
    },
    #[error("{kind} hook {path}: {how}")]
    Failed {
        kind: &'static str,
        path: String,
        how: String,
    },
}

/// Run `hooks` of `kind` in order; the first failure stops them.
pub fn run(kind: &'static str, hooks: &[Hook], state_json: &str) -> Result<(), HookError> {
    for h in hooks {
        run_one(kind, h, state_json)?;
    }
    Ok(())
}

fn run_one(kind: &'static str, h: &Hook, state_json: &str) -> Result<(), HookError> {
    let path = h.path().display().to_string();
    crate::explain::step("hook", || format!("{kind}: {path}"));
    let mut cmd = Command::new(h.path());
    if let Some(args) = h.args() {
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first).args(rest);
        }
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|err| HookError::Spawn {
        kind,
        path: path.clone(),
        err,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state is no failure (EPIPE).
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let limit = h.timeout().map(|t| Duration::from_secs(t.max(1) as u64));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(err) => {
                return Err(HookError::Spawn { kind, path, err });
            }
        }
        if limit.is_some_and(|l| start.elapsed() > l) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookError::Failed {
                kind,
                path,
                how: format!("timed out after {}s", limit.unwrap_or_default().as_secs()),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if status.success() {
        return Ok(());
    }
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => "failed".to_string(),
    };
    Err(HookError::Failed { kind, path, how })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: serde_json::Value) -> Hook {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_hook_reads_the_state_on_stdin_and_its_status_counts() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("state");
        let ok = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}", out.display())]
        }));
        run("poststart", &[ok], "{\"id\":\"x\"}").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"id\":\"x\"}");
        let bad = hook(serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}));
        let e = run("prestart", &[bad], "{}").unwrap_err().to_string();
        assert_eq!(e, "prestart hook /bin/sh: exit status 3");
        let slow =
            hook(serde_json::json!({"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}));
        let e = run("poststop", &[slow], "{}").unwrap_err().to_string();
        assert!(e.contains("timed out"), "{e}");
    }
}
