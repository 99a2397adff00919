//! The container lifecycle against the real kernel, with Docker's semantics: `run -d` and
//! its monitor, the json-file log and `logs`, `exec` (namespaces, cgroup, exit status, user,
//! workdir, env), `stop`/`kill` and their exit codes, `--init`, `start`/`wait`/`restart`/
//! `rename`/`top`, `ps` status strings, restart policies, a crashed monitor, and many
//! containers at once. Every test removes what it made and checks that no nsbox process for
//! its data root is left.

mod common;

use chrono::{DateTime, Utc};
use common::{stderr, stdout, Env, NSBOX};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn containers_dir(env: &Env) -> PathBuf {
    env.root().join("containers")
}

/// Full ids of every container directory under <root>/containers.
fn container_ids(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(containers_dir(env))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// state.json of a container (by full id), if it is there and parses.
fn state(env: &Env, id: &str) -> Option<Value> {
    let raw = std::fs::read(containers_dir(env).join(id).join("state.json")).ok()?;
    serde_json::from_slice(&raw).ok()
}

fn state_of(env: &Env, id: &str) -> Value {
    state(env, id).unwrap_or_else(|| panic!("no readable state.json for {id}"))
}

/// The full id of the container named `name` (from the state files).
fn id_of(env: &Env, name: &str) -> String {
    for id in container_ids(env) {
        if let Some(st) = state(env, &id) {
            if st["name"] == name || st["name"] == format!("/{name}") {
                return id;
            }
        }
    }
    panic!("no container named {name}; have {:?}", container_ids(env))
}

fn int(v: &Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or(0)
}

/// A process that exists and is not a zombie.
fn alive(pid: i64) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let after = &stat[stat.rfind(')').map(|i| i + 2).unwrap_or(0)..];
            !after.starts_with('Z') && !after.starts_with('X')
        }
        Err(_) => false,
    }
}

/// Process state letter (R, S, Z, ...) of a pid.
fn proc_state(pid: &str) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// The command name of a process (kept by the kernel even for a zombie).
fn comm(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().to_string())
        .unwrap_or_default()
}

fn ppid_of(pid: i64) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
}

fn cmdline(pid: &str) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .unwrap_or_default()
}

fn ns_link(pid: &str, ns: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

fn proc_pids() -> Vec<String> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .collect()
        })
        .unwrap_or_default()
}

/// Pids (as strings) of the processes in the same pid namespace as `pid1`.
fn pids_in_ns_of(pid1: i64) -> Vec<String> {
    let Some(want) = ns_link(&pid1.to_string(), "pid") else {
        return Vec::new();
    };
    proc_pids()
        .into_iter()
        .filter(|p| ns_link(p, "pid").as_deref() == Some(want.as_str()))
        .collect()
}

/// Live (non-zombie) processes that belong to this test's data root: their environment
/// carries NSBOX_ROOT=<root> (every nsbox client and monitor) or their command line names it.
fn processes_of(env: &Env) -> Vec<(String, String)> {
    let me = std::process::id().to_string();
    let root = env.root().to_string_lossy().into_owned();
    let needle = format!("NSBOX_ROOT={root}");
    let mut found = Vec::new();
    for pid in proc_pids() {
        if pid == me {
            continue;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let in_env = environ.split(|b| *b == 0).any(|kv| kv == needle.as_bytes());
        let cmd = cmdline(&pid);
        if (in_env || cmd.contains(&root)) && alive(pid.parse().unwrap_or(0)) {
            found.push((pid, cmd));
        }
    }
    found
}

/// Every cgroup directory named nsbox-<id> (for these ids) anywhere under /sys/fs/cgroup.
fn cgroups_named(ids: &[String]) -> Vec<PathBuf> {
    let want: HashSet<String> = ids.iter().map(|id| format!("nsbox-{id}")).collect();
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if want.contains(&name) {
                found.push(e.path());
            }
            stack.push(e.path());
        }
    }
    found
}

/// Force-remove every container of this root, then wait (bounded) for all of its
/// processes to go. Returns what is still alive.
fn remove_everything(env: &Env) -> Vec<(String, String)> {
    for id in container_ids(env) {
        let out = env.nsbox(&["rm", "-f", "-v", &id]);
        if !out.status.success() {
            eprintln!("rm -f -v {id}: {:?}: {}", out.status.code(), stderr(&out));
        }
    }
    let mut left = Vec::new();
    wait_for(15, || {
        left = processes_of(env);
        left.is_empty()
    });
    left
}

/// Removes everything on drop, so a failing test leaves nothing running; declare it
/// after the Env so that it drops first.
struct Cleanup<'a>(&'a Env);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let left = remove_everything(self.0);
        // Only if something went wrong: end the processes this test started, by pid.
        for (pid, _) in &left {
            if let Ok(p) = pid.parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if !std::thread::panicking() {
            assert!(left.is_empty(), "processes left for this root: {left:?}");
        }
    }
}

/// The end of a test: remove all containers (`rm -f`), and check that nothing of them is
/// left: no container dir, no process, no cgroup named after them, no mount.
fn finish(env: &Env, ids: &[String]) {
    let left = remove_everything(env);
    assert!(left.is_empty(), "nsbox processes left: {left:?}");
    assert!(
        container_ids(env).is_empty(),
        "containers left: {:?}",
        container_ids(env)
            .iter()
            .map(|id| (
                id.clone(),
                state(env, id),
                std::fs::read_dir(containers_dir(env).join(id))
                    .map(|d| d
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect::<Vec<_>>())
                    .unwrap_or_default()
            ))
            .collect::<Vec<_>>()
    );
    let cgs = cgroups_named(ids);
    assert!(cgs.is_empty(), "cgroups left: {cgs:?}");
    assert!(env.mounts().is_empty(), "mounts left: {:?}", env.mounts());
}

/// `nsbox run -d ARGS`: asserts success and a 64-hex id on stdout; returns the id.
fn run_d(env: &Env, args: &[&str]) -> String {
    let mut full = vec!["run", "-d"];
    full.extend_from_slice(args);
    let out = env.nsbox(&full);
    assert!(
        out.status.success(),
        "nsbox {full:?} failed ({:?}): {}",
        out.status.code(),
        stderr(&out)
    );
    let id = stdout(&out).trim().to_string();
    assert!(
        is_hex64(&id),
        "run -d prints the full id: {:?}",
        stdout(&out)
    );
    id
}

/// Wait until the container runs: state "running" with a live pid 1. Returns the state.
fn wait_running(env: &Env, id: &str) -> Value {
    let mut st = Value::Null;
    let ok = wait_for(20, || {
        st = state(env, id).unwrap_or(Value::Null);
        st["status"] == "running" && alive(int(&st, "pid"))
    });
    assert!(ok, "container {id} never ran: {st}");
    st
}

/// Wait until the container has exited for good: status exited and no monitor.
fn wait_exited(env: &Env, id: &str, secs: u64) -> Value {
    let mut st = Value::Null;
    let ok = wait_for(secs, || {
        st = state(env, id).unwrap_or(Value::Null);
        st["status"] == "exited" && int(&st, "monitor_pid") == 0
    });
    assert!(
        ok,
        "container {id} did not exit (with its monitor gone): {st}"
    );
    st
}

/// Wait until the container's log holds a line containing `text`.
fn wait_log(env: &Env, ctr: &str, text: &str) {
    let mut last = String::new();
    let ok = wait_for(20, || {
        last = stdout(&env.nsbox(&["logs", ctr]));
        last.contains(text)
    });
    assert!(ok, "log of {ctr} never showed {text:?}: {last:?}");
}

/// Parse the json-file log: (log, stream, time) of each line.
fn read_log_file(path: &Path) -> Vec<(String, String, String)> {
    let raw = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read log {}: {e}", path.display()));
    raw.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l:?}"));
            let obj = v.as_object().expect("log line is an object");
            for k in ["log", "stream", "time"] {
                assert!(obj.contains_key(k), "log line lacks {k}: {l}");
            }
            (
                v["log"].as_str().unwrap().to_string(),
                v["stream"].as_str().unwrap().to_string(),
                v["time"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn parse_time(t: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(t)
        .unwrap_or_else(|e| panic!("not an RFC 3339 time ({e}): {t:?}"))
        .with_timezone(&Utc)
}

fn log_path(st: &Value) -> PathBuf {
    let p = PathBuf::from(st["log_path"].as_str().unwrap_or(""));
    assert!(p.is_absolute(), "state has a log_path: {st}");
    p
}

/// Wait for a spawned child with a bound; kill it (by its pid) if it does not end.
fn wait_child(mut child: Child, secs: u64) -> Output {
    let done = wait_for(secs, || matches!(child.try_wait(), Ok(Some(_))));
    if !done {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    assert!(done, "process did not end within {secs}s: {}", stdout(&out));
    out
}

fn ps_row(env: &Env, name: &str) -> String {
    let ps = env.ok(&["ps", "-a"]);
    ps.lines()
        .skip(1)
        .find(|l| l.split_whitespace().last() == Some(name))
        .unwrap_or_else(|| panic!("no ps -a row for {name}: {ps}"))
        .to_string()
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

// ---------------------------------------------------------------------------------------------
// run -d, the monitor, the json-file log
// ---------------------------------------------------------------------------------------------

#[test]
fn run_detached_prints_id_and_a_monitor_supervises() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--name", "bg", "busybox", "sleep", "60"]);
    // `run -d` returned while the container still runs.
    let st = wait_running(&env, &id);
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["name"].as_str().unwrap().trim_start_matches('/'), "bg");
    let pid = int(&st, "pid");
    let monitor = int(&st, "monitor_pid");
    assert!(alive(monitor), "the monitor runs: {st}");
    assert_eq!(
        ppid_of(pid),
        Some(monitor),
        "the monitor is the parent of the container's pid 1: {st}"
    );
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.State.Pid}}", "bg"]).trim(),
        pid.to_string()
    );
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.State.Status}}", "bg"]).trim(),
        "running"
    );
    assert_eq!(env.ok(&["ps", "-q"]).trim(), &id[..12]);
    // The /proc scan that every test ends with does see the monitor.
    let procs = processes_of(&env);
    assert!(
        procs.iter().any(|(p, _)| *p == monitor.to_string()),
        "the monitor is found as a process of this root: {procs:?}"
    );
    finish(&env, &[id]);
    assert!(
        !alive(pid) && !alive(monitor),
        "rm -f ended pid 1 and the monitor"
    );
}

#[test]
fn detached_output_goes_to_the_json_file_log_and_logs_splits_streams() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(
        &env,
        &[
            "--name",
            "lg",
            "busybox",
            "sh",
            "-c",
            "echo out1; echo err1 >&2; echo out2",
        ],
    );
    let st = wait_exited(&env, &id, 20);
    assert_eq!(int(&st, "exit_code"), 0);
    let entries = read_log_file(&log_path(&st));
    let mut outs: Vec<&str> = Vec::new();
    let mut errs: Vec<&str> = Vec::new();
    for (log, stream, time) in &entries {
        parse_time(time);
        assert!(log.ends_with('\n'), "each entry is a line: {log:?}");
        match stream.as_str() {
            "stdout" => outs.push(log),
            "stderr" => errs.push(log),
            s => panic!("bad stream {s}"),
        }
    }
    assert_eq!(outs, vec!["out1\n", "out2\n"], "{entries:?}");
    assert_eq!(errs, vec!["err1\n"], "{entries:?}");
    let out = env.nsbox(&["logs", "lg"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out1\nout2\n");
    assert_eq!(stderr(&out), "err1\n");
    finish(&env, &[id]);
}

#[test]
fn foreground_run_logs_too_and_returns_the_exit_status() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let out = env.nsbox(&[
        "run",
        "--name",
        "fg",
        "busybox",
        "sh",
        "-c",
        "echo hi; echo oops >&2; exit 4",
    ]);
    assert_eq!(code(&out), Some(4), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
    assert_eq!(stderr(&out), "oops\n");
    let id = id_of(&env, "fg");
    let st = wait_exited(&env, &id, 10);
    assert_eq!(int(&st, "exit_code"), 4);
    assert_eq!(int(&st, "pid"), 0, "no pid once exited: {st}");
    let entries = read_log_file(&log_path(&st));
    assert!(
        entries.iter().any(|(l, s, _)| l == "hi\n" && s == "stdout"),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .any(|(l, s, _)| l == "oops\n" && s == "stderr"),
        "{entries:?}"
    );
    let logs = env.nsbox(&["logs", "fg"]);
    assert_eq!(stdout(&logs), "hi\n");
    assert_eq!(stderr(&logs), "oops\n");
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.State.ExitCode}}", "fg"])
            .trim(),
        "4"
    );
    finish(&env, &[id]);
}

#[test]
fn log_opts_rotate_the_json_file() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(
        &env,
        &[
            "--name",
            "rot",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=2",
            "busybox",
            "sh",
            "-c",
            "i=0; while [ $i -lt 200 ]; do echo \"line $i .........................\"; i=$((i+1)); done",
        ],
    );
    let st = wait_exited(&env, &id, 30);
    let log = log_path(&st);
    let dir = log.parent().unwrap();
    assert_eq!(log.file_name().unwrap(), "container.log", "{st}");
    let rotated = dir.join("container.log.1");
    assert!(rotated.exists(), "rotated to container.log.1");
    assert!(
        !dir.join("container.log.2").exists(),
        "max-file=2 keeps two files"
    );
    for f in [&log, &rotated] {
        let len = std::fs::metadata(f).unwrap().len();
        assert!(len <= 1024 + 256, "{} is {len} bytes", f.display());
        read_log_file(f); // every line still a whole JSON entry
    }
    // logs shows the rotated file then the current one: the last lines, in order.
    let out = env.ok(&["logs", "rot"]);
    let nums: Vec<u32> = out
        .lines()
        .map(|l| {
            l.strip_prefix("line ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected log line {l:?}"))
        })
        .collect();
    assert!(!nums.is_empty());
    assert_eq!(*nums.last().unwrap(), 199, "{out}");
    assert!(nums.len() < 200, "older lines rotated away: {}", nums.len());
    for w in nums.windows(2) {
        assert_eq!(w[1], w[0] + 1, "contiguous lines: {out}");
    }
    finish(&env, &[id]);
}

#[test]
fn logs_tail_timestamps_since_and_until() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(
        &env,
        &[
            "--name",
            "lt",
            "busybox",
            "sh",
            "-c",
            "echo early; sleep 2; for i in 1 2 3 4 5; do echo late$i; done",
        ],
    );
    let st = wait_exited(&env, &id, 20);
    let entries = read_log_file(&log_path(&st));
    let lines: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        lines,
        vec!["early\n", "late1\n", "late2\n", "late3\n", "late4\n", "late5\n"]
    );

    // --tail
    assert_eq!(env.ok(&["logs", "--tail", "2", "lt"]), "late4\nlate5\n");
    assert_eq!(env.ok(&["logs", "--tail", "0", "lt"]), "");
    assert_eq!(env.ok(&["logs", "--tail", "all", "lt"]).lines().count(), 6);

    // -t: RFC3339Nano time, a space, the line; the time is the entry's.
    let ts = env.ok(&["logs", "-t", "lt"]);
    let ts_lines: Vec<&str> = ts.lines().collect();
    assert_eq!(ts_lines.len(), 6, "{ts}");
    for (line, (log, _, time)) in ts_lines.iter().zip(&entries) {
        let (t, rest) = line.split_once(' ').expect("time, space, line");
        assert_eq!(format!("{rest}\n"), *log);
        assert_eq!(parse_time(t), parse_time(time), "{line}");
        assert!(
            t.contains('.') && (t.ends_with('Z') || t.contains('+')),
            "RFC3339Nano: {t}"
        );
    }

    // --since / --until, in every form.
    assert_eq!(env.ok(&["logs", "--since", "10m", "lt"]).lines().count(), 6);
    let future = (Utc::now().timestamp() + 3600).to_string();
    assert_eq!(env.ok(&["logs", "--since", &future, "lt"]), "");
    let past = (Utc::now().timestamp() - 3600).to_string();
    assert_eq!(env.ok(&["logs", "--until", &past, "lt"]), "");
    assert_eq!(env.ok(&["logs", "--since", &past, "lt"]).lines().count(), 6);
    let early = parse_time(&entries[0].2);
    let late = parse_time(&entries[1].2);
    assert!(late > early, "{entries:?}");
    let mid = early + (late - early) / 2;
    let mid_s = mid.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    assert_eq!(
        env.ok(&["logs", "--since", &mid_s, "lt"]),
        "late1\nlate2\nlate3\nlate4\nlate5\n"
    );
    assert_eq!(env.ok(&["logs", "--until", &mid_s, "lt"]), "early\n");
    assert_eq!(
        env.ok(&["logs", "--since", &entries[1].2, "lt"])
            .lines()
            .count(),
        5,
        "--since is inclusive"
    );
    finish(&env, &[id]);
}

#[test]
fn logs_follow_returns_when_the_container_exits() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(
        &env,
        &[
            "--name",
            "fo",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo n$i; sleep 1; done; echo bye >&2",
        ],
    );
    let child = env
        .cmd()
        .args(["logs", "-f", "fo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_child(child, 60);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "n1\nn2\nn3\n");
    assert_eq!(stderr(&out), "bye\n");
    let st = wait_exited(&env, &id, 10);
    assert_eq!(int(&st, "exit_code"), 0);
    finish(&env, &[id]);
}

#[test]
fn logs_follow_keeps_up_across_rotation() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(
        &env,
        &[
            "--name",
            "fr",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=2",
            "busybox",
            "sh",
            "-c",
            "sleep 3; i=0; while [ $i -lt 150 ]; do echo \"row $i\"; i=$((i+1)); sleep 0.02; done",
        ],
    );
    let child = env
        .cmd()
        .args(["logs", "-f", "fr"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_child(child, 90);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let want: String = (0..150).map(|i| format!("row {i}\n")).collect();
    assert_eq!(stdout(&out), want, "every line once, in order");
    let st = wait_exited(&env, &id, 10);
    assert!(
        log_path(&st)
            .parent()
            .unwrap()
            .join("container.log.1")
            .exists(),
        "the log did rotate"
    );
    finish(&env, &[id]);
}

// ---------------------------------------------------------------------------------------------
// exec
// ---------------------------------------------------------------------------------------------

#[test]
fn exec_joins_every_namespace_and_the_cgroup() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--name", "ex", "busybox", "sleep", "60"]);
    let st = wait_running(&env, &id);
    let pid1 = int(&st, "pid");
    let out = env.nsbox(&["exec", "-d", "ex", "sh", "-c", "sleep 4242"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    // Find it on the host: a process in pid 1's pid namespace running `sleep 4242`.
    let mut found = None;
    wait_for(10, || {
        found = pids_in_ns_of(pid1)
            .into_iter()
            .find(|p| cmdline(p).ends_with("sleep 4242") && !cmdline(p).starts_with("sh"));
        found.is_some()
    });
    let pid = found.unwrap_or_else(|| {
        panic!(
            "exec'd process not found in the container's pid namespace: {:?}",
            pids_in_ns_of(pid1)
                .iter()
                .map(|p| cmdline(p))
                .collect::<Vec<_>>()
        )
    });
    let p1 = pid1.to_string();
    for ns in ["mnt", "pid", "net", "uts", "ipc", "cgroup"] {
        let c = ns_link(&p1, ns).unwrap();
        let e = ns_link(&pid, ns).unwrap();
        assert_eq!(e, c, "{ns} namespace of the exec'd process");
        assert_ne!(
            ns_link("self", ns).unwrap(),
            c,
            "{ns} of the container is not the host's"
        );
    }
    let cg = |p: &str| std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
    assert_eq!(cg(&pid), cg(&p1), "same cgroup as pid 1");
    // And `top` lists it.
    let top = env.ok(&["top", "ex"]);
    assert!(
        top.lines()
            .any(|l| l.split_whitespace().any(|w| w == pid) && l.contains("sleep 4242")),
        "{top}"
    );
    finish(&env, &[id]);
}

#[test]
fn exec_exit_status_passes_through() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--name", "es", "busybox", "sleep", "60"]);
    wait_running(&env, &id);
    let out = env.nsbox(&["exec", "es", "sh", "-c", "exit 7"]);
    assert_eq!(code(&out), Some(7), "{}", stderr(&out));
    let out = env.nsbox(&["exec", "es", "sh", "-c", "echo to-out; echo to-err >&2"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "to-out\n");
    assert_eq!(stderr(&out), "to-err\n");
    let out = env.nsbox(&["exec", "es", "no-such-command"]);
    assert_eq!(code(&out), Some(127), "{}", stderr(&out));
    assert!(!stderr(&out).trim().is_empty());
    // The container goes on after all of that.
    assert!(alive(int(&state_of(&env, &id), "pid")));
    finish(&env, &[id]);
}

#[test]
fn exec_on_a_stopped_container_fails_with_1() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let out = env.nsbox(&["run", "--name", "done", "busybox", "true"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let id = id_of(&env, "done");
    wait_exited(&env, &id, 10);
    let out = env.nsbox(&["exec", "done", "true"]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
    finish(&env, &[id]);
}

#[test]
fn exec_user_workdir_and_env() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--name", "eu", "busybox", "sleep", "60"]);
    wait_running(&env, &id);
    assert_eq!(
        env.ok(&["exec", "-u", "nobody", "eu", "id", "-u"]),
        "65534\n"
    );
    assert_eq!(env.ok(&["exec", "eu", "id", "-u"]), "0\n");
    assert_eq!(env.ok(&["exec", "-w", "/tmp", "eu", "pwd"]), "/tmp\n");
    assert_eq!(
        env.ok(&["exec", "-e", "A=b", "eu", "sh", "-c", "echo $A"]),
        "b\n"
    );
    // Combined, and with the image's PATH still there.
    assert_eq!(
        env.ok(&[
            "exec",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "-e",
            "A=b",
            "eu",
            "sh",
            "-c",
            "echo $(id -u) $(pwd) $A; echo $PATH"
        ])
        .lines()
        .next()
        .unwrap(),
        "65534 /tmp b"
    );
    finish(&env, &[id]);
}

#[test]
fn exec_interactive_passes_stdin() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--name", "ei", "busybox", "sleep", "60"]);
    wait_running(&env, &id);
    let mut child = env
        .cmd()
        .args(["exec", "-i", "ei", "sh", "-c", "cat; echo end"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"through stdin\n").unwrap();
    } // closed: EOF
    let out = wait_child(child, 30);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "through stdin\nend\n");
    // Without -i the process reads EOF at once.
    assert_eq!(
        env.ok(&["exec", "ei", "sh", "-c", "cat; echo end"]),
        "end\n"
    );
    finish(&env, &[id]);
}

#[test]
fn exec_tty_gets_a_terminal() {
    // util-linux `script` gives the nsbox client a terminal of its own.
    if !common::require_tool("script") {
        return;
    }
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--name", "et", "busybox", "sleep", "60"]);
    wait_running(&env, &id);
    // util-linux `script` gives the nsbox client a terminal of its own.
    let cmd = format!("{NSBOX} exec -t et sh -c 'tty; exit 3'");
    let child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("NSBOX_ROOT", env.root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let child = child.expect("spawn script(1)");
    let out = wait_child(child, 30);
    assert!(
        stdout(&out).contains("/dev/pts/"),
        "tty inside exec -t: {:?} {:?}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(code(&out), Some(3), "script -e passes the exit status");
    // Without -t there is no terminal.
    let out = env.nsbox(&["exec", "et", "tty"]);
    assert!(stdout(&out).contains("not a tty"), "{}", stdout(&out));
    finish(&env, &[id]);
}

// ---------------------------------------------------------------------------------------------
// stop, kill, --init
// ---------------------------------------------------------------------------------------------

#[test]
fn stop_of_sleep_as_pid1_escalates_to_sigkill_137() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--name", "s1", "busybox", "sleep", "60"]);
    let pid = int(&wait_running(&env, &id), "pid");
    let out = env.nsbox(&["stop", "-t", "1", "s1"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let st = wait_exited(&env, &id, 20);
    assert_eq!(int(&st, "exit_code"), 137, "{st}");
    assert_eq!(int(&st, "pid"), 0, "{st}");
    assert_eq!(st["manually_stopped"], true, "{st}");
    assert!(!alive(pid), "pid 1 is gone");
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.State.ExitCode}}", "s1"])
            .trim(),
        "137"
    );
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.State.Status}}", "s1"]).trim(),
        "exited"
    );
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.State.Pid}}", "s1"]).trim(),
        "0"
    );
    assert!(ps_row(&env, "s1").contains("Exited (137)"));
    finish(&env, &[id]);
}

#[test]
fn stop_with_init_forwards_sigterm_143() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--init", "--name", "s2", "busybox", "sleep", "60"]);
    let st = wait_running(&env, &id);
    // Wait until the init has started `sleep` (two processes in the pid namespace).
    let pid1 = int(&st, "pid");
    assert!(
        wait_for(10, || pids_in_ns_of(pid1)
            .iter()
            .any(|p| cmdline(p) == "sleep 60")),
        "sleep runs under the init"
    );
    let out = env.nsbox(&["stop", "-t", "10", "s2"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let st = wait_exited(&env, &id, 20);
    assert_eq!(int(&st, "exit_code"), 143, "{st}");
    assert_eq!(env.ok(&["wait", "s2"]).trim(), "143");
    finish(&env, &[id]);
}

#[test]
fn kill_with_init_int_is_130_and_default_kill_is_137() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let a = run_d(&env, &["--init", "--name", "k1", "busybox", "sleep", "60"]);
    let b = run_d(&env, &["--init", "--name", "k2", "busybox", "sleep", "60"]);
    for id in [&a, &b] {
        let pid1 = int(&wait_running(&env, id), "pid");
        assert!(wait_for(10, || pids_in_ns_of(pid1)
            .iter()
            .any(|p| cmdline(p) == "sleep 60")));
    }
    let out = env.nsbox(&["kill", "-s", "INT", "k1"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let out = env.nsbox(&["kill", "k2"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(env.ok(&["wait", "k1"]).trim(), "130");
    assert_eq!(env.ok(&["wait", "k2"]).trim(), "137");
    assert_eq!(int(&wait_exited(&env, &a, 10), "exit_code"), 130);
    assert_eq!(int(&wait_exited(&env, &b, 10), "exit_code"), 137);
    // Killing a stopped container fails.
    let out = env.nsbox(&["kill", "k1"]);
    assert_ne!(code(&out), Some(0));
    finish(&env, &[a, b]);
}

#[test]
fn stop_of_a_trapping_shell_exits_0() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(
        &env,
        &[
            "--name",
            "tr",
            "busybox",
            "sh",
            "-c",
            "trap \"exit 0\" TERM; echo ready; while :; do sleep 0.1; done",
        ],
    );
    wait_running(&env, &id);
    wait_log(&env, "tr", "ready");
    let out = env.nsbox(&["stop", "-t", "30", "tr"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let st = wait_exited(&env, &id, 20);
    assert_eq!(int(&st, "exit_code"), 0, "{st}");
    assert!(ps_row(&env, "tr").contains("Exited (0)"));
    finish(&env, &[id]);
}

#[test]
fn init_reaps_orphans() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let out = env.nsbox(&[
        "run",
        "--init",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "(sleep 0.1 &) ; sleep 1; ps -o stat | grep -c Z",
    ]);
    // grep -c exits 1 when it counts 0, so the status is not the point here.
    assert_eq!(stdout(&out), "0\n", "no zombie: {}", stderr(&out));

    // The same watched from the host: an orphan ends, and the pid namespace is back to
    // the init and `sleep 60`, with no zombie.
    let id = run_d(
        &env,
        &[
            "--init",
            "--name",
            "ri",
            "busybox",
            "sh",
            "-c",
            "(sleep 1 &); exec sleep 60",
        ],
    );
    let pid1 = int(&wait_running(&env, &id), "pid");
    let mut seen = Vec::new();
    let ok = wait_for(15, || {
        seen = pids_in_ns_of(pid1)
            .into_iter()
            .map(|p| (cmdline(&p), proc_state(&p)))
            .collect();
        seen.len() == 2
            && seen.iter().any(|(c, _)| c == "sleep 60")
            && seen.iter().all(|(_, s)| *s != Some('Z'))
    });
    assert!(ok, "the orphan was reaped: {seen:?}");
    finish(&env, &[id]);
}

#[test]
fn without_init_an_orphan_stays_a_zombie() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    // pid 1 becomes `sleep 60`, which never waits: the orphan, reparented to it, stays a zombie.
    let id = run_d(
        &env,
        &[
            "--name",
            "zo",
            "busybox",
            "sh",
            "-c",
            "(sleep 1 &); exec sleep 60",
        ],
    );
    let pid1 = int(&wait_running(&env, &id), "pid");
    let mut seen = Vec::new();
    let ok = wait_for(15, || {
        seen = pids_in_ns_of(pid1)
            .into_iter()
            .map(|p| (comm(&p), proc_state(&p), ppid_of(p.parse().unwrap())))
            .collect();
        seen.iter()
            .any(|(c, s, pp)| c == "sleep" && *s == Some('Z') && *pp == Some(pid1))
    });
    assert!(
        ok,
        "the orphaned `sleep 1` stays a zombie child of pid 1: {seen:?}"
    );
    // It stays one: pid 1 (`sleep 60`) never reaps it.
    std::thread::sleep(Duration::from_millis(500));
    let zombies = pids_in_ns_of(pid1)
        .into_iter()
        .filter(|p| proc_state(p) == Some('Z'))
        .count();
    assert_eq!(zombies, 1, "still a zombie");
    finish(&env, &[id]);
}

// ---------------------------------------------------------------------------------------------
// start, wait, restart, rename, top, ps
// ---------------------------------------------------------------------------------------------

#[test]
fn start_reuses_the_upper_dir_and_start_a_returns_the_exit_code() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let script = "test -f /mark && { echo second; exit 5; } || { touch /mark; echo first; }";
    let out = env.nsbox(&["run", "--name", "st", "busybox", "sh", "-c", script]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "first\n");
    let id = id_of(&env, "st");
    wait_exited(&env, &id, 10);
    assert!(env.mounts().is_empty(), "unmounted after exit");
    let out = env.nsbox(&["start", "-a", "st"]);
    assert_eq!(code(&out), Some(5), "{}", stderr(&out));
    assert_eq!(stdout(&out), "second\n");
    let st = wait_exited(&env, &id, 10);
    assert_eq!(int(&st, "exit_code"), 5);
    assert_eq!(env.ok(&["wait", "st"]).trim(), "5");
    // A detached start works too, and the log has all three runs.
    let out = env.nsbox(&["start", "st"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    wait_exited(&env, &id, 10);
    assert_eq!(env.ok(&["logs", "st"]), "first\nsecond\nsecond\n");
    finish(&env, &[id]);
}

#[test]
fn wait_prints_the_exit_code() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(
        &env,
        &["--name", "w", "busybox", "sh", "-c", "sleep 1; exit 9"],
    );
    let out = env.nsbox(&["wait", "w"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "9\n");
    // Once more on the exited container.
    assert_eq!(env.ok(&["wait", "w"]), "9\n");
    assert_eq!(int(&wait_exited(&env, &id, 10), "exit_code"), 9);
    finish(&env, &[id]);
}

#[test]
fn restart_stops_and_starts_again() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(
        &env,
        &[
            "--name",
            "rs",
            "busybox",
            "sh",
            "-c",
            "trap \"exit 0\" TERM; echo ready; while :; do sleep 0.1; done",
        ],
    );
    let old = int(&wait_running(&env, &id), "pid");
    wait_log(&env, "rs", "ready");
    let out = env.nsbox(&["restart", "rs"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let st = wait_running(&env, &id);
    let new = int(&st, "pid");
    assert_ne!(new, old, "a new pid 1");
    assert!(!alive(old), "the old pid 1 is gone");
    assert!(alive(int(&st, "monitor_pid")), "a monitor again: {st}");
    assert!(ps_row(&env, "rs").contains("Up"));
    let mut logs = String::new();
    assert!(
        wait_for(10, || {
            logs = env.ok(&["logs", "rs"]);
            logs == "ready\nready\n"
        }),
        "{logs:?}"
    );
    finish(&env, &[id]);
}

#[test]
fn rename_changes_the_name() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--name", "old", "busybox", "sleep", "60"]);
    wait_running(&env, &id);
    let out = env.nsbox(&["rename", "old", "new"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let ps = env.ok(&["ps"]);
    assert!(ps_row(&env, "new").contains("Up"), "{ps}");
    assert!(
        !ps.lines()
            .skip(1)
            .any(|l| l.split_whitespace().last() == Some("old")),
        "{ps}"
    );
    assert_eq!(
        state_of(&env, &id)["name"]
            .as_str()
            .unwrap()
            .trim_start_matches('/'),
        "new"
    );
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.State.Status}}", "new"])
            .trim(),
        "running"
    );
    assert_ne!(code(&env.nsbox(&["inspect", "old"])), Some(0));
    // The old name is free again.
    let out = env.nsbox(&["run", "--rm", "--name", "old", "busybox", "true"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    finish(&env, &[id]);
}

#[test]
fn top_lists_the_processes() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--name", "tp", "busybox", "sleep", "60"]);
    let pid = int(&wait_running(&env, &id), "pid");
    let out = env.ok(&["top", "tp"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    for col in ["UID", "PID", "PPID", "TIME", "CMD"] {
        assert!(header.contains(&col), "{out}");
    }
    let pid_col = header.iter().position(|c| *c == "PID").unwrap();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "one process: {out}");
    let cols: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(cols[pid_col], pid.to_string(), "host pid of pid 1: {out}");
    assert!(rows[0].ends_with("sleep 60"), "{out}");
    assert!(cols.contains(&"root") || cols[0] == "0", "{out}");
    // Not on a stopped container.
    env.ok(&["kill", "tp"]);
    wait_exited(&env, &id, 10);
    assert_ne!(code(&env.nsbox(&["top", "tp"])), Some(0));
    finish(&env, &[id]);
}

#[test]
fn ps_shows_created_up_and_exited() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    // A container that failed to start stays "Created", as in Docker.
    let out = env.nsbox(&["run", "--name", "cr", "busybox", "no-such-command"]);
    assert_eq!(code(&out), Some(127), "{}", stderr(&out));
    let out = env.nsbox(&["run", "--name", "ex", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(code(&out), Some(3), "{}", stderr(&out));
    let up = run_d(&env, &["--name", "up", "busybox", "sleep", "60"]);
    wait_running(&env, &up);
    let created = ps_row(&env, "cr");
    assert!(created.contains("Created"), "{created}");
    let exited = ps_row(&env, "ex");
    let re_ok = exited.contains("Exited (3) ") && exited.contains(" ago");
    assert!(re_ok, "{exited}");
    let running = ps_row(&env, "up");
    assert!(running.contains("Up "), "{running}");
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.State.Status}}", "cr"]).trim(),
        "created"
    );
    // `ps` without -a: only the running one.
    assert_eq!(env.ok(&["ps", "-q"]).trim(), &up[..12]);
    let ids = container_ids(&env);
    assert_eq!(ids.len(), 3);
    finish(&env, &ids);
}

// ---------------------------------------------------------------------------------------------
// Restart policies
// ---------------------------------------------------------------------------------------------

#[test]
fn restart_on_failure_gives_up_after_the_maximum() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(
        &env,
        &[
            "--restart",
            "on-failure:2",
            "--name",
            "of",
            "busybox",
            "sh",
            "-c",
            "echo run; exit 3",
        ],
    );
    let st = wait_exited(&env, &id, 60);
    assert_eq!(int(&st, "restart_count"), 2, "{st}");
    assert_eq!(int(&st, "exit_code"), 3, "{st}");
    assert_eq!(env.ok(&["logs", "of"]), "run\nrun\nrun\n", "three runs");
    assert!(ps_row(&env, "of").contains("Exited (3)"));
    finish(&env, &[id]);
}

#[test]
fn restart_always_does_not_restart_after_stop() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(
        &env,
        &[
            "--restart",
            "always",
            "--name",
            "al",
            "busybox",
            "sleep",
            "60",
        ],
    );
    wait_running(&env, &id);
    let out = env.nsbox(&["stop", "-t", "1", "al"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let st = wait_exited(&env, &id, 20);
    assert_eq!(int(&st, "exit_code"), 137, "{st}");
    assert_eq!(int(&st, "restart_count"), 0, "{st}");
    assert_eq!(st["manually_stopped"], true, "{st}");
    // With its monitor gone nothing can bring it back.
    assert_eq!(env.ok(&["ps", "-q"]), "");
    assert_eq!(state_of(&env, &id)["status"], "exited");
    finish(&env, &[id]);
}

#[test]
fn restart_always_with_rm_conflicts() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let out = env.nsbox(&["run", "--restart", "always", "--rm", "busybox", "true"]);
    assert_eq!(code(&out), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Conflicting options"),
        "{}",
        stderr(&out)
    );
    assert!(container_ids(&env).is_empty());
    finish(&env, &[]);
}

// ---------------------------------------------------------------------------------------------
// Crash safety, concurrency, rm
// ---------------------------------------------------------------------------------------------

#[test]
fn a_killed_monitor_leaves_a_removable_container() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--name", "orph", "busybox", "sleep", "60"]);
    let st = wait_running(&env, &id);
    let pid = int(&st, "pid");
    let monitor = int(&st, "monitor_pid");
    assert!(alive(monitor), "{st}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_for(10, || !alive(monitor)), "monitor killed");
    assert!(alive(pid), "pid 1 outlives its monitor");
    let row = ps_row(&env, "orph");
    assert!(row.contains("Up"), "{row}");
    assert_eq!(env.ok(&["ps", "-q"]).trim(), &id[..12]);

    let out = env.nsbox(&["rm", "-f", "orph"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(wait_for(10, || !alive(pid)), "pid 1 killed by rm -f");
    assert!(
        !containers_dir(&env).join(&id).exists(),
        "container dir removed"
    );
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert!(env.mounts().is_empty(), "mounts left: {:?}", env.mounts());
    let cgs = cgroups_named(std::slice::from_ref(&id));
    assert!(cgs.is_empty(), "cgroups left: {cgs:?}");
    finish(&env, &[id]);
}

/// Run `args(i)` for i in 0..n, each in its own thread, all at once.
fn concurrently(env: &Env, n: usize, args: impl Fn(usize) -> Vec<String> + Sync) -> Vec<Output> {
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (args, barrier) = (&args, &barrier);
                s.spawn(move || {
                    let a = args(i);
                    let a: Vec<&str> = a.iter().map(String::as_str).collect();
                    barrier.wait();
                    env.nsbox(&a)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn twenty_containers_run_stop_and_rm_concurrently() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    const N: usize = 20;
    let sv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let runs = concurrently(&env, N, |_| sv(&["run", "-d", "busybox", "sleep", "30"]));
    let mut ids = Vec::new();
    let mut failures = Vec::new();
    for (i, out) in runs.iter().enumerate() {
        let id = stdout(out).trim().to_string();
        if code(out) == Some(0) && is_hex64(&id) {
            ids.push(id);
        } else {
            failures.push(format!("run #{i}: {:?}: {}", code(out), stderr(out).trim()));
        }
    }
    assert!(
        failures.is_empty(),
        "concurrent run -d failed: {failures:#?}"
    );
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), N);
    for id in &ids {
        wait_running(&env, id);
    }
    assert_eq!(env.ok(&["ps", "-q"]).lines().count(), N, "all running");

    let stops = concurrently(&env, N, |i| sv(&["stop", "-t", "0", &ids[i]]));
    for (id, out) in ids.iter().zip(&stops) {
        assert_eq!(code(out), Some(0), "stop {id}: {}", stderr(out));
    }
    for id in &ids {
        let st = wait_exited(&env, id, 30);
        assert_eq!(int(&st, "exit_code"), 137, "{st}");
    }
    assert_eq!(env.ok(&["ps", "-q"]), "");

    let rms = concurrently(&env, N, |i| sv(&["rm", &ids[i]]));
    for (id, out) in ids.iter().zip(&rms) {
        assert_eq!(code(out), Some(0), "rm {id}: {}", stderr(out));
    }
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert!(container_ids(&env).is_empty(), "{:?}", container_ids(&env));
    let cgs = cgroups_named(&ids);
    assert!(cgs.is_empty(), "cgroups left: {cgs:?}");
    finish(&env, &ids);
}

#[test]
fn unnamed_containers_always_get_a_free_name() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    // Docker never fails a `run` without --name because a generated name is taken.
    let mut names = HashSet::new();
    for i in 0..60 {
        let out = env.nsbox(&["run", "busybox", "true"]);
        assert_eq!(
            code(&out),
            Some(0),
            "run #{i} without --name: {}",
            stderr(&out)
        );
    }
    for id in container_ids(&env) {
        let name = state_of(&env, &id)["name"].as_str().unwrap().to_string();
        assert!(names.insert(name.clone()), "name {name} given twice");
    }
    assert_eq!(names.len(), 60);
    let ids = container_ids(&env);
    finish(&env, &ids);
}

#[test]
fn rm_f_right_after_run_d_always_removes_the_container() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    // rm -f races the monitor's own cleanup (pid 1 dies, both unmount and record the
    // exit); whoever wins, rm -f must succeed and leave nothing.
    // Unpack and link the image's layers first: concurrent first use is another test's
    // subject (twenty_containers_run_stop_and_rm_concurrently).
    env.ok(&["run", "--rm", "busybox", "true"]);
    let sv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut all = Vec::new();
    for round in 0..5 {
        let runs = concurrently(&env, 4, |i| {
            sv(&[
                "run",
                "-d",
                "--name",
                &format!("race{round}x{i}"),
                "busybox",
                "sh",
                "-c",
                "while :; do echo x; sleep 0.01; done",
            ])
        });
        for out in &runs {
            assert_eq!(code(out), Some(0), "{}", stderr(out));
            all.push(stdout(out).trim().to_string());
        }
        let rms = concurrently(&env, 4, |i| sv(&["rm", "-f", &format!("race{round}x{i}")]));
        for (i, out) in rms.iter().enumerate() {
            assert_eq!(code(out), Some(0), "rm -f race{round}x{i}: {}", stderr(out));
        }
        assert!(
            wait_for(10, || container_ids(&env).is_empty()),
            "containers left: {:?}",
            container_ids(&env)
        );
    }
    finish(&env, &all);
}

#[test]
fn rm_refuses_a_running_container_and_rm_f_removes_it() {
    let env = Env::with_busybox();
    let _c = Cleanup(&env);
    let id = run_d(&env, &["--name", "rr", "busybox", "sleep", "60"]);
    let st = wait_running(&env, &id);
    let (pid, monitor) = (int(&st, "pid"), int(&st, "monitor_pid"));
    let out = env.nsbox(&["rm", "rr"]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot remove a running container"),
        "{}",
        stderr(&out)
    );
    assert!(alive(pid), "still running after a refused rm");
    assert!(containers_dir(&env).join(&id).exists());

    let out = env.nsbox(&["rm", "-f", "rr"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "rr");
    assert!(wait_for(10, || !alive(pid)), "pid 1 gone");
    assert!(wait_for(10, || !alive(monitor)), "monitor gone");
    assert!(!containers_dir(&env).join(&id).exists());
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert!(
        !env.root().join("names/rr").exists()
            && std::fs::symlink_metadata(env.root().join("names/rr")).is_err(),
        "name released"
    );
    finish(&env, &[id]);
}
