//! Bad input gets one clear line with Docker's exit code; closed pipes and full disks on our
//! output neither panic nor leave anything behind (issue 10 §3-§4).

mod common;

use common::{stderr, Env};
use std::path::Path;
use std::process::Stdio;

/// The stderr of a failed command: exactly one line, prefixed `nsbox: `, no Rust debug dump.
fn one_line(what: &str, out: &std::process::Output) -> String {
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: want one line, got {err:?}");
    assert!(lines[0].starts_with("nsbox: "), "{what}: {err:?}");
    for bad in ["daemon", "panicked", "Os {", "kind:", "Error: "] {
        assert!(!err.contains(bad), "{what}: {bad:?} in {err:?}");
    }
    lines[0].to_string()
}

#[test]
fn an_unknown_flag_is_named_as_one() {
    let env = Env::with_busybox();
    let out = env.nsbox(&["run", "--bogus", "busybox"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"nsbox: unknown flag: --bogus"),
        "{err}"
    );
    assert!(lines.len() <= 2, "one line and a hint at most: {err}");

    let out = env.nsbox(&["run", "-p", "80:80", "busybox"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).starts_with("nsbox: unknown shorthand flag: 'p' in -p"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).lines().count() <= 2);
    // A flag after the image is the command's: it still runs.
    assert_eq!(
        env.ok(&["run", "--rm", "busybox", "echo", "--bogus", "-p"]),
        "--bogus -p\n"
    );
    let out = env.nsbox(&["exec", "--bogus", "c", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).starts_with("nsbox: unknown flag: --bogus\n"),
        "{}",
        stderr(&out)
    );
    // A group alone: its help, or one line and a hint (never clap's paragraphs).
    assert!(stderr(&env.nsbox(&["volume"])).lines().count() <= 2);
    let out = env.nsbox(&["frob"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).lines().count() <= 2, "{}", stderr(&out));
    env.assert_no_containers();
}

#[test]
fn no_such_object_is_one_line_and_exit_1() {
    let env = Env::with_busybox();
    for args in [
        &["stop", "nosuch"][..],
        &["rm", "nosuch"],
        &["kill", "nosuch"],
        &["start", "nosuch"],
        &["inspect", "nosuch"],
        &["logs", "nosuch"],
        &["volume", "rm", "nosuch"],
        &["volume", "inspect", "nosuch"],
    ] {
        let out = env.nsbox(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let line = one_line(&format!("{args:?}"), &out);
        assert!(line.contains("nosuch"), "{args:?}: {line}");
    }
    // Two missing: one line each, still exit 1, no summary line.
    let out = env.nsbox(&["rm", "a1", "a2"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "nsbox: No such container: a1\nnsbox: No such container: a2\n"
    );
}

#[test]
fn a_closed_stdout_is_a_quiet_end() {
    let env = Env::with_busybox();
    env.ok(&["run", "--name", "c1", "busybox", "sh", "-c", "echo hello"]);
    env.ok(&["volume", "create", "v1"]);
    for args in [
        &["ps", "-a"][..],
        &["inspect", "c1"],
        &["images"],
        &["logs", "c1"],
        &["volume", "ls"],
        &["volume", "inspect", "v1"],
        &["history", "busybox"],
        &["layers", "busybox", "--format", "json"],
        &["save", "busybox"],
    ] {
        let out = env
            .cmd()
            .args(args)
            .stdout(common::closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    env.ok(&["rm", "c1"]);
    env.ok(&["volume", "rm", "v1"]);

    // `logs -f` of a container that goes on: a closed stdout ends it (it used to follow on).
    env.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "while :; do echo tick; sleep 0.1; done",
    ]);
    let child = env
        .cmd()
        .args(["logs", "-f", "talker"])
        .stdout(common::closed_pipe())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = common::output_within(child, 30);
    assert_eq!(out.status.code(), Some(0), "logs -f: {}", stderr(&out));
    env.ok(&["rm", "-f", "talker"]);
    env.assert_no_containers();
}

#[test]
fn a_full_disk_on_stdout_is_one_line() {
    let env = Env::with_busybox();
    env.ok(&["run", "--name", "c1", "busybox", "true"]);
    for args in [
        &["ps", "-a"][..],
        &["inspect", "c1"],
        &["images"],
        &["volume", "ls"],
    ] {
        let out = env
            .cmd()
            .args(args)
            .stdout(common::dev_full())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: a panic");
        let line = one_line(&format!("{args:?}"), &out);
        assert!(line.contains("No space left on device"), "{args:?}: {line}");
    }
    env.ok(&["rm", "c1"]);
}

#[test]
fn narration_to_a_closed_pipe_never_interrupts_a_run() {
    let env = Env::with_busybox();
    for mode in ["--explain", "--explain=json"] {
        let out = env
            .cmd()
            .args(["run", mode, "--rm", "busybox", "sh", "-c", "exit 3"])
            .stdout(Stdio::piped())
            .stderr(common::closed_pipe())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{mode}");
        env.assert_no_containers();
    }
}

#[test]
fn the_containers_process_starts_with_sigpipe_default() {
    let env = Env::with_busybox();
    // SIGPIPE is signal 13: bit 12 of SigIgn must be clear even though nsbox ignores it.
    let status = env.ok(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "SigIgn",
        "/proc/self/status",
    ]);
    let mask = status.split_whitespace().nth(1).expect("SigIgn value");
    let mask = u64::from_str_radix(mask, 16).expect("hex mask");
    assert_eq!(
        mask & (1 << 12),
        0,
        "SIGPIPE ignored in the container: {status}"
    );
    // So `yes | head` ends.
    let child = env
        .cmd()
        .args(["run", "--rm", "busybox", "sh", "-c", "yes | head -2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = common::output_within(child, 30);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(common::stdout(&out), "y\ny\n");
}

/// The v1 hierarchies (or the v2 root) a cgroup path lives in on this machine.
fn cgroup_dirs(rel: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        return vec![root.join(rel)];
    }
    ["cpu", "memory", "pids"]
        .iter()
        .map(|c| root.join(c).join(rel))
        .collect()
}

#[test]
fn a_cgroup_parent_stays_inside_the_hierarchy() {
    let env = Env::with_busybox();
    let escape = format!("nsbox-badinput-{}", std::process::id());
    let parent = format!("../../../../../../../../tmp/{escape}");
    for bad in [parent.as_str(), "a//b", "./x", "x/..", ""] {
        let out = env.nsbox(&["run", "--rm", "--cgroup-parent", bad, "busybox", "true"]);
        assert_eq!(out.status.code(), Some(125), "{bad:?}");
        one_line(bad, &out);
    }
    assert!(
        !Path::new("/tmp").join(&escape).exists(),
        "mkdir outside cgroupfs"
    );
    env.assert_no_containers();
}

#[test]
fn the_cgroup_parents_nsbox_made_go_with_the_container() {
    let env = Env::with_busybox();
    let top = format!("nsbox-badinput-{}", std::process::id());
    let parent = format!("/{top}/sub");
    env.ok(&["run", "--rm", "--cgroup-parent", &parent, "busybox", "true"]);
    for d in cgroup_dirs(&top) {
        assert!(!d.exists(), "{} left behind after --rm", d.display());
    }
    // After rm -f of a running container too.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "p",
        "--cgroup-parent",
        &parent,
        "busybox",
        "sleep",
        "60",
    ]);
    env.ok(&["rm", "-f", "p"]);
    common::wait_until(10, "parent cgroups removed", || {
        cgroup_dirs(&top).iter().all(|d| !d.exists())
    });
    // A parent that was there before stays.
    let kept = cgroup_dirs(&top);
    for d in &kept {
        std::fs::create_dir(d).unwrap();
    }
    env.ok(&[
        "run",
        "--rm",
        "--cgroup-parent",
        &format!("/{top}"),
        "busybox",
        "true",
    ]);
    let stayed = kept.iter().all(|d| d.exists());
    for d in &kept {
        let _ = std::fs::remove_dir(d);
    }
    assert!(stayed, "a parent nsbox did not make was removed");
    env.assert_no_containers();
}

#[test]
fn a_cgroup_error_is_one_line() {
    let env = Env::with_busybox();
    // cpu.shares is a file: mkdir below it fails (ENOTDIR) in the kernel.
    let rel = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/cgroup.procs"
    } else {
        "/cpu.shares"
    };
    let out = env.nsbox(&["run", "--rm", "--cgroup-parent", rel, "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    one_line(rel, &out);
    env.assert_no_containers();
}

#[test]
fn bad_tmpfs_options_fail_before_anything_exists() {
    let env = Env::with_busybox();
    for bad in [
        "/x:size=abc",
        "/x:mode=999",
        "/x:uid=me",
        "/x:nr_inodes=lots",
    ] {
        let out = env.nsbox(&["run", "--rm", "--tmpfs", bad, "busybox", "true"]);
        assert_eq!(out.status.code(), Some(125), "{bad}");
        let line = one_line(bad, &out);
        assert!(line.contains("invalid tmpfs option"), "{bad}: {line}");
    }
    let out = env.nsbox(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=abc",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(one_line("--mount", &out).contains("tmpfs-size"));
    env.assert_no_containers();
    // Good values still mount.
    let df = env.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/x:size=1m,mode=1777",
        "busybox",
        "df",
        "/x",
    ]);
    assert!(df.contains("1024"), "{df}");
}
