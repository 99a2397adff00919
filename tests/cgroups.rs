//! Resource limits on the real kernel. The same assertions run on this machine's
//! hybrid cgroups and, through tests/vm, on a pure cgroup v2 guest: inside the container
//! the cgroup namespace puts its own cgroup at the root of /sys/fs/cgroup, so a limit is
//! read from `/sys/fs/cgroup/<file>` (v2) or `/sys/fs/cgroup/<controller>/<file>` (v1).

mod common;

use common::{stderr, stdout, Env};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A shell snippet printing the first readable of the v2 and v1 files.
fn read_either(v2: &str, v1: &str) -> String {
    format!("cat /sys/fs/cgroup/{v2} 2>/dev/null || cat /sys/fs/cgroup/{v1}")
}

fn run(env: &Env, args: &[&str]) -> std::process::Output {
    let mut full = vec!["run", "--rm"];
    full.extend_from_slice(args);
    env.nsbox(&full)
}

#[test]
fn memory_limit_oom_kills_at_the_limit_and_not_below() {
    let env = Env::with_busybox();
    let out = env.nsbox(&[
        "run",
        "--name",
        "oom",
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 64m /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    assert!(!stdout(&out).contains("survived"));
    assert_eq!(
        env.ok(&[
            "inspect",
            "-f",
            "{{.State.OOMKilled}} {{.State.ExitCode}} {{.HostConfig.Memory}}",
            "oom"
        ])
        .trim(),
        "true 137 33554432"
    );
    assert!(env.ok(&["ps", "-a"]).contains("OOMKilled"));
    env.ok(&["rm", "oom"]);

    let out = run(
        &env,
        &[
            "-m",
            "32m",
            "busybox",
            "sh",
            "-c",
            "x=$(head -c 8m /dev/zero | tr '\\0' a); echo survived",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "survived\n");
    let limit = run(
        &env,
        &[
            "-m",
            "32m",
            "busybox",
            "sh",
            "-c",
            &read_either("memory.max", "memory/memory.limit_in_bytes"),
        ],
    );
    assert_eq!(stdout(&limit).trim(), "33554432");
}

#[test]
fn memory_swap_follows_docker() {
    let env = Env::with_busybox();
    let cmd = read_either("memory.swap.max", "memory/memory.memsw.limit_in_bytes");
    let out = run(
        &env,
        &[
            "-m",
            "32m",
            "--memory-swap",
            "64m",
            "busybox",
            "sh",
            "-c",
            &cmd,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // v2 counts swap alone (64m - 32m); v1 counts memory + swap.
    let v = stdout(&out).trim().to_string();
    assert!(v == "33554432" || v == "67108864", "{v}");
    let out = run(
        &env,
        &["-m", "32m", "--memory-swap", "-1", "busybox", "true"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for bad in [
        vec!["-m", "64m", "--memory-swap", "32m"],
        vec!["--memory-swap", "64m"],
    ] {
        let mut args = bad.clone();
        args.extend(["busybox", "true"]);
        let out = run(&env, &args);
        assert_eq!(out.status.code(), Some(125), "{bad:?}");
        assert!(stderr(&out).contains("emory"), "{}", stderr(&out));
    }
}

#[test]
fn pids_limit_stops_a_fork_bomb_and_the_container_survives() {
    let env = Env::with_busybox();
    // The bomb runs in a child shell (ash gives up when fork fails); pid 1 lives on.
    let script = format!(
        "{}; sh -c 'for i in $(seq 30); do sleep 3 & done' 2>/dev/null; echo survived",
        read_either("pids.max", "pids/pids.max")
    );
    let out = run(
        &env,
        &["--pids-limit", "10", "busybox", "sh", "-c", &script],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "10\nsurvived\n");
}

#[test]
fn cpu_quota_throttles_and_is_counted() {
    let env = Env::with_busybox();
    let script = format!(
        "{}; end=$(( $(date +%s) + 2 )); while [ $(date +%s) -lt $end ]; do :; done; {}",
        read_either("cpu.max", "cpu/cpu.cfs_quota_us"),
        read_either("cpu.stat", "cpu/cpu.stat")
    );
    let out = run(&env, &["--cpus", "0.2", "busybox", "sh", "-c", &script]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let quota = text.lines().next().unwrap();
    assert!(quota == "20000 100000" || quota == "20000", "{text}");
    let throttled: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("nr_throttled "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no nr_throttled: {text}"));
    assert!(
        throttled > 0,
        "a busy loop at 0.2 CPUs is throttled: {text}"
    );
}

#[test]
fn cpuset_is_honoured() {
    let env = Env::with_busybox();
    let out = run(
        &env,
        &[
            "--cpuset-cpus",
            "0",
            "busybox",
            "grep",
            "Cpus_allowed_list",
            "/proc/self/status",
        ],
    );
    assert_eq!(
        stdout(&out).split_whitespace().last(),
        Some("0"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn cgroup_namespace_shows_the_container_at_the_root() {
    let env = Env::with_busybox();
    let out = run(&env, &["busybox", "cat", "/proc/self/cgroup"]);
    let text = stdout(&out);
    assert!(!text.is_empty(), "{}", stderr(&out));
    for line in text.lines() {
        assert!(
            line.ends_with(":/"),
            "each hierarchy shows / inside: {text}"
        );
    }
}

/// The host-side cgroup dirs of a process, from /proc/PID/cgroup.
fn host_cgroup_dirs(pid: i32) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let unified = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    text.lines()
        .filter_map(|l| {
            let mut p = l.splitn(3, ':');
            let (_, ctrl, path) = (p.next()?, p.next()?, p.next()?);
            let rel = path.trim_start_matches('/');
            match (unified, ctrl) {
                (true, "") => Some(Path::new("/sys/fs/cgroup").join(rel)),
                (false, "") => None,
                (false, c) => {
                    let mount = c.split(',').next()?.trim_start_matches("name=");
                    Some(Path::new("/sys/fs/cgroup").join(mount).join(rel))
                }
                _ => None,
            }
        })
        .collect()
}

fn running_pid(env: &Env, name: &str) -> i32 {
    for _ in 0..300 {
        let out = env.nsbox(&["inspect", "-f", "{{.State.Pid}}", name]);
        if let Ok(pid) = stdout(&out).trim().parse::<i32>() {
            if pid > 0 {
                return pid;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{name} did not start");
}

#[test]
fn placed_below_the_callers_cgroup_and_removed_after_exit_and_rm_f() {
    let env = Env::with_busybox();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mut child = env
        .cmd()
        .args([
            "run", "--name", "placed", "-m", "64m", "busybox", "sleep", "30",
        ])
        .spawn()
        .unwrap();
    let pid = running_pid(&env, "placed");
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in theirs.lines() {
        let (prefix, path) = line.rsplit_once(':').unwrap();
        let mine = own
            .lines()
            .find(|l| l.rsplit_once(':').unwrap().0 == prefix)
            .map(|l| l.rsplit_once(':').unwrap().1);
        if let Some(mine) = mine {
            if prefix.ends_with(':') && !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
                continue; // hybrid's near-empty cgroup2: nsbox does not use it
            }
            let parent = Path::new(path).parent().unwrap();
            assert_eq!(
                parent,
                Path::new(mine),
                "{line}: directly below the caller's own cgroup {mine}"
            );
            assert!(
                path.rsplit('/').next().unwrap().starts_with("nsbox-"),
                "{line}"
            );
        }
    }
    let dirs = host_cgroup_dirs(pid);
    assert!(
        !dirs.is_empty() && dirs.iter().all(|d| d.exists()),
        "{dirs:?}"
    );
    env.ok(&["rm", "-f", "placed"]);
    assert_eq!(common::wait_child(&mut child, 30).code(), Some(137));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        dirs.iter().all(|d| !d.exists()),
        "removed after rm -f: {dirs:?}"
    );

    // And after a normal exit (the monitor removes it).
    let mut child = env
        .cmd()
        .args(["run", "--name", "brief", "busybox", "sleep", "1"])
        .spawn()
        .unwrap();
    let dirs = host_cgroup_dirs(running_pid(&env, "brief"));
    assert_eq!(common::wait_child(&mut child, 30).code(), Some(0));
    assert!(
        dirs.iter().all(|d| !d.exists()),
        "removed after exit: {dirs:?}"
    );
    env.ok(&["rm", "brief"]);
}

#[test]
fn cgroup_parent_places_the_container_below_it() {
    let env = Env::with_busybox();
    let parent = format!("nsbox-parent-{}", std::process::id());
    let out = run(&env, &["--cgroup-parent", &parent, "busybox", "true"]);
    // Clean up the parent we asked for (nsbox removes only what it owns: the container's cgroup).
    let mut leftovers = Vec::new();
    for dir in walk_named("/sys/fs/cgroup", &parent, 6) {
        let children = std::fs::read_dir(&dir)
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
            .unwrap_or(0);
        if children > 0 {
            leftovers.push(dir.clone());
        }
        let _ = std::fs::remove_dir(&dir);
    }
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        leftovers.is_empty(),
        "container cgroups left below the parent: {leftovers:?}"
    );
    let out = env.nsbox(&[
        "run",
        "--rm",
        "--cgroup-parent",
        &parent,
        "busybox",
        "cat",
        "/proc/1/cgroup",
    ]);
    for dir in walk_named("/sys/fs/cgroup", &parent, 6) {
        let _ = std::fs::remove_dir(&dir);
    }
    assert_eq!(out.status.code(), Some(0));
}

fn walk_named(root: &str, name: &str, depth: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(PathBuf::from(root), 0)];
    while let Some((dir, d)) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            if e.file_name() == name {
                found.push(p.clone());
            }
            if d < depth {
                stack.push((p, d + 1));
            }
        }
    }
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found
}

#[test]
fn bad_values_are_rejected_before_anything_is_created() {
    let env = Env::with_busybox();
    for bad in [
        vec!["-m", "12q"],
        vec!["-m", "1k"],
        vec!["--cpus", "-1"],
        vec!["--cpus", "99"],
        vec!["--cpuset-cpus", "0-99"],
        vec!["--cpuset-cpus", "x"],
        vec!["--blkio-weight", "5"],
        vec!["--device-read-bps", "/dev/nonexistent:1mb"],
    ] {
        let mut args = vec!["run", "--name", "never"];
        args.extend(bad.iter().copied());
        args.extend(["busybox", "true"]);
        let out = env.nsbox(&args);
        assert_eq!(out.status.code(), Some(125), "{bad:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).trim().lines().count(),
            1,
            "{bad:?}: one line: {}",
            stderr(&out)
        );
    }
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert_eq!(
        std::fs::read_dir(env.root().join("containers"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}

/// cgroup v2 only: from a cgroup that has processes, controllers cannot be delegated to
/// children. nsbox says so instead of moving processes it does not own.
#[test]
fn v2_no_internal_processes_is_explained() {
    if !common::in_vm()
        || !common::prerequisite(
            Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
            "a pure cgroup v2 machine we own (the tests/vm guest)",
        )
    {
        return;
    }
    let env = Env::with_busybox();
    let busy = PathBuf::from(format!("/sys/fs/cgroup/nsbox-busy-{}", std::process::id()));
    std::fs::create_dir(&busy).unwrap();
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec \"$0\" run --rm -m 32m busybox true",
        busy.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script, common::NSBOX])
        .env("NSBOX_ROOT", env.root())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir(&busy);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no internal processes"),
        "{}",
        stderr(&out)
    );
}
