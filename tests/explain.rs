//! `nsbox run --explain`: the runtime narrates each real step, in order, on stderr, in
//! text or one JSON object per line; and without the flag it says nothing.

mod common;

use common::{stderr, stdout, Env};

/// The step names of the explain lines on stderr, in order (text mode).
fn text_steps(err: &str) -> Vec<String> {
    err.lines()
        .filter(|l| l.starts_with('['))
        .filter_map(|l| l.split("] ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(String::from)
        .collect()
}

/// Every stderr line that starts with '{' as (ms, step, detail).
fn json_events(err: &str) -> Vec<(f64, String, String)> {
    err.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            (
                v["ms"].as_f64().unwrap_or_else(|| panic!("no ms: {l}")),
                v["step"].as_str().expect("step").to_string(),
                v["detail"].as_str().expect("detail").to_string(),
            )
        })
        .collect()
}

/// `want` appears in `have` as a subsequence: every step, in this order.
fn assert_in_order(have: &[String], want: &[&str]) {
    let mut it = have.iter();
    for w in want {
        assert!(
            it.any(|h| h == w),
            "step {w} missing or out of order; steps were {have:?}"
        );
    }
}

/// The steps every container goes through, from image to exit.
const PLAIN: [&str; 12] = [
    "image",
    "overlay",
    "namespaces",
    "cgroup",
    "clone",
    "cgroup",
    "mount",
    "devices",
    "pivot_root",
    "security",
    "exec",
    "exit",
];

#[test]
fn plain_run_narrates_every_step_in_order() {
    let env = Env::with_busybox();
    let out = env.nsbox(&["run", "--explain", "--rm", "busybox", "echo", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The container's own output is untouched.
    assert_eq!(stdout(&out), "hi\n");
    let err = stderr(&out);
    assert_in_order(&text_steps(&err), &PLAIN);
    // Kernel terms: the clone flags, the overlay mount command, pivot_root, exec line.
    assert!(err.contains("CLONE_NEWPID"), "{err}");
    assert!(err.contains("CLONE_NEWNET"), "{err}");
    assert!(
        err.contains("mount -t overlay overlay -o lowerdir="),
        "{err}"
    );
    assert!(err.contains("proc on /proc"), "{err}");
    assert!(err.contains("pivot_root . ."), "{err}");
    assert!(err.contains("capabilities kept: "), "{err}");
    assert!(err.contains("echo hi"), "{err}");
    assert!(
        err.contains("(init moves itself in)"),
        "the join is shown: {err}"
    );
    assert!(
        err.contains("] overlay     umount "),
        "teardown is shown: {err}"
    );
    let exit = err
        .lines()
        .find(|l| l.contains("] exit"))
        .expect("exit line");
    assert!(exit.contains("status 0"), "{exit}");
}

#[test]
fn limits_show_the_cgroup_files_written() {
    let env = Env::with_busybox();
    let out = env.nsbox(&[
        "run",
        "--explain",
        "--rm",
        "-m",
        "64m",
        "--pids-limit",
        "9",
        "busybox",
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_in_order(&text_steps(&err), &PLAIN);
    let cgroup = err
        .lines()
        .find(|l| l.contains("] cgroup") && l.contains("mkdir"))
        .expect("cgroup mkdir line");
    // v1 and v2 name the memory file differently; both hold the exact bytes.
    assert!(
        cgroup.contains("memory.limit_in_bytes=67108864") || cgroup.contains("memory.max=67108864"),
        "{cgroup}"
    );
    assert!(cgroup.contains("pids.max=9"), "{cgroup}");
    assert!(err.contains("rmdir /sys/fs/cgroup/"), "{err}");
}

#[test]
fn volumes_and_tmpfs_appear_as_mounts() {
    let env = Env::with_busybox();
    let out = env.nsbox(&[
        "run",
        "--explain",
        "--rm",
        "-v",
        "expl:/data",
        "--tmpfs",
        "/t",
        "busybox",
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_in_order(&text_steps(&err), &PLAIN);
    let volume = env.root().join("volumes/expl/_data");
    assert!(
        err.contains(&format!("{} on /data", volume.display())),
        "volume source and target: {err}"
    );
    assert!(
        err.contains("tmpfs on /t ("),
        "tmpfs with its options: {err}"
    );
    env.ok(&["volume", "rm", "expl"]);
}

#[test]
fn json_mode_is_one_object_per_line() {
    let env = Env::with_busybox();
    let out = env.nsbox(&[
        "run",
        "--explain=json",
        "--rm",
        "-m",
        "32m",
        "busybox",
        "echo",
        "hi",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
    let err = stderr(&out);
    let events = json_events(&err);
    let steps: Vec<String> = events.iter().map(|e| e.1.clone()).collect();
    assert_in_order(&steps, &PLAIN);
    // Time only moves forward.
    for w in events.windows(2) {
        assert!(w[0].0 <= w[1].0, "ms goes backwards: {events:?}");
    }
    assert!(events.iter().all(|e| !e.2.is_empty()), "{events:?}");
    // No text lines mixed in.
    assert!(!err.lines().any(|l| l.starts_with('[')), "{err}");
}

#[test]
fn without_the_flag_nothing_is_narrated() {
    let env = Env::with_busybox();
    let out = env.nsbox(&["run", "--rm", "busybox", "echo", "hi"]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
}
