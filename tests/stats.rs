//! `nsbox stats` and `nsbox update` against real cgroups (v1 or v2: everything is read
//! through `nsbox stats --format json`, never from cgroup files by name).

mod common;

use common::{stderr, Env};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A background `nsbox run --name NAME ARGS...`, removed (rm -f) and reaped on drop.
struct Running<'a> {
    env: &'a Env,
    name: String,
    child: Option<Child>,
}

impl<'a> Running<'a> {
    fn start(env: &'a Env, name: &str, args: &[&str]) -> Self {
        let child = env
            .cmd()
            .args(["run", "--name", name])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nsbox run");
        let r = Running {
            env,
            name: name.to_string(),
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = env.ok(&["ps"]);
            if out
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().last() == Some(name))
            {
                break;
            }
            assert!(Instant::now() < deadline, "{name} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// Wait up to `timeout` for `nsbox run` to end; its exit code and stderr.
    fn wait_exit(&mut self, timeout: Duration) -> Option<(Option<i32>, String)> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let child = self.child.take()?;
                let out = child.wait_with_output().ok()?;
                return Some((status.code(), stderr(&out)));
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.env.nsbox(&["rm", "-f", &self.name]);
        if let Some(mut c) = self.child.take() {
            // rm -f killed the container, so `run` ends on its own; make sure.
            if self.wait_child(&mut c).is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

impl Running<'_> {
    fn wait_child(&self, c: &mut Child) -> Option<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return Some(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// `stats --no-stream --format json NAME`, parsed.
fn stats(env: &Env, name: &str) -> serde_json::Value {
    let out = env.ok(&["stats", "--no-stream", "--format", "json", name]);
    let line = out
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no stats line"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad json {line:?}: {e}"))
}

fn code(env: &Env, args: &[&str]) -> (Option<i32>, String) {
    let out = env.nsbox(args);
    (out.status.code(), stderr(&out))
}

const BUSY: [&str; 4] = ["busybox", "sh", "-c", "while :; do :; done"];

#[test]
fn cpus_limit_is_visible_as_throttling() {
    let env = Env::with_busybox();
    let mut args = vec!["--cpus", "0.2"];
    args.extend(BUSY);
    let _s1 = Running::start(&env, "s1", &args);
    std::thread::sleep(Duration::from_secs(1));
    let s = stats(&env, "s1");
    assert_eq!(s["Name"], "s1", "{s}");
    let cpu = s["CPUPerc"].as_f64().expect("CPUPerc is a number");
    // 0.2 CPUs is 20%; leave room for a loaded machine and short samples.
    assert!(
        (0.0..=35.0).contains(&cpu),
        "CPU% {cpu} with --cpus 0.2: {s}"
    );
    assert!(s["PIDs"].as_u64().unwrap_or(0) >= 1, "{s}");
    assert!(
        s["NrThrottled"].as_u64().unwrap_or(0) > 0,
        "a busy loop under --cpus 0.2 is throttled: {s}"
    );
    assert!(s["MemUsage"].as_u64().is_some(), "{s}");
    assert!(s["MemLimit"].as_u64().unwrap_or(0) > 0, "{s}");

    // The table has the extra THROTTLED column and a row for s1.
    let table = env.ok(&["stats", "--no-stream"]);
    let header = table.lines().next().unwrap_or_default();
    for col in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "PIDS",
        "THROTTLED",
    ] {
        assert!(header.contains(col), "{table}");
    }
    assert!(table.lines().any(|l| l.contains(" s1 ")), "{table}");
}

#[test]
fn memory_limit_shows_and_updates() {
    let env = Env::with_busybox();
    let mut args = vec!["-m", "32m"];
    args.extend(BUSY);
    let _m1 = Running::start(&env, "m1", &args);
    assert_eq!(stats(&env, "m1")["MemLimit"], 32u64 << 20);

    assert_eq!(env.ok(&["update", "-m", "64m", "m1"]).trim(), "m1");
    assert_eq!(stats(&env, "m1")["MemLimit"], 64u64 << 20);

    // A bad value fails before anything changes.
    let (c, err) = code(&env, &["update", "-m", "12q", "m1"]);
    assert_eq!(c, Some(125), "{err}");
    assert!(err.contains("12q"), "{err}");
    assert_eq!(stats(&env, "m1")["MemLimit"], 64u64 << 20);

    // No flags at all.
    let (c, err) = code(&env, &["update", "m1"]);
    assert_eq!(c, Some(125), "{err}");
    assert!(err.contains("you must provide one or more flags"), "{err}");
}

#[test]
fn pids_limit_update_stops_forks() {
    let env = Env::with_busybox();
    // Forks 8 children again and again; once limited to 5 pids, a fork fails.
    let mut p1 = Running::start(
        &env,
        "p1",
        &[
            "busybox",
            "sh",
            "-c",
            "while :; do for i in 1 2 3 4 5 6 7 8; do sleep 0.2 & done; wait; done",
        ],
    );
    assert!(
        p1.wait_exit(Duration::from_secs(1)).is_none(),
        "runs fine without a limit"
    );
    assert_eq!(env.ok(&["update", "--pids-limit", "5", "p1"]).trim(), "p1");
    // The limit is in place (unless the container already died of it: then stats fails,
    // or prints the zeros of a stopped container).
    let out = env.nsbox(&["stats", "--no-stream", "--format", "json", "p1"]);
    let stopped = common::stdout(&out).contains("\"MemLimit\":0,");
    if out.status.success() && !stopped {
        let s: serde_json::Value =
            serde_json::from_str(common::stdout(&out).lines().next().unwrap_or("null"))
                .expect("stats json");
        assert_eq!(s["PIDsLimit"], 5, "{s}");
        assert!(s["PIDs"].as_u64().unwrap_or(0) <= 5, "{s}");
    }
    let (exit, err) = p1
        .wait_exit(Duration::from_secs(20))
        .expect("the shell cannot fork past --pids-limit 5 and gives up");
    assert_ne!(exit, Some(0), "{err}");
    assert!(err.contains("fork"), "fork failed: {err}");
}

#[test]
fn update_needs_a_running_container() {
    let env = Env::with_busybox();
    env.ok(&["run", "--name", "done1", "busybox", "true"]);
    let (c, err) = code(&env, &["update", "-m", "64m", "done1"]);
    assert_eq!(c, Some(125), "{err}");
    assert!(err.contains("not running"), "{err}");
    let (c, err) = code(&env, &["stats", "--no-stream", "done1"]);
    assert_eq!(c, Some(1), "{err}");
    assert!(err.contains("not running"), "{err}");
    // With -a a stopped container shows zeros.
    let out = env.ok(&["stats", "--no-stream", "-a", "--format", "json", "done1"]);
    let s: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(s["PIDs"], 0, "{s}");
    env.ok(&["rm", "done1"]);
}
