//! `nsbox ns`, `nsbox cgroup` and `nsbox info` against the real kernel: the namespace
//! inodes match /proc, a limit set by `run` is what `cgroup` reads, and `info` reports
//! the cgroup layout this machine really has (hybrid here, v2 in the VM guest).

mod common;

use common::{stderr, stdout, Env};
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A container running `sleep 30` in the background, removed (rm -f) on drop.
struct Running<'a> {
    env: &'a Env,
    name: &'static str,
    child: Child,
    pid: i32,
}

impl<'a> Running<'a> {
    fn start(env: &'a Env, name: &'static str, flags: &[&str]) -> Self {
        let mut args = vec!["run", "--name", name];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sleep", "30"]);
        let child = env
            .cmd()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nsbox run");
        let mut r = Running {
            env,
            name,
            child,
            pid: 0,
        };
        // Wait for the state to record pid 1 (or for run to fail); no timing asserted.
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let out = env.nsbox(&["inspect", "-f", "{{.State.Pid}}", name]);
            let pid: i32 = stdout(&out).trim().parse().unwrap_or(0);
            if pid > 0 {
                r.pid = pid;
                return r;
            }
            if let Ok(Some(st)) = r.child.try_wait() {
                panic!("nsbox run exited early: {st}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("container {name} never started");
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.env.nsbox(&["rm", "-f", self.name]);
        common::reap(&mut self.child, 30);
    }
}

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

fn inode(link: &str) -> Option<u64> {
    let t = std::fs::read_link(link).ok()?;
    t.to_string_lossy()
        .split_once(":[")?
        .1
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The cgroup layout, found independently of nsbox: from the mount table.
fn cgroup_mode() -> &'static str {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let fstype_at = |mp: &str| -> Option<String> {
        info.lines()
            .filter(|l| l.split(' ').nth(4) == Some(mp))
            .filter_map(|l| {
                l.split_once(" - ")
                    .map(|(_, p)| p.split(' ').next().unwrap_or("").to_string())
            })
            .next_back()
    };
    match fstype_at("/sys/fs/cgroup").as_deref() {
        Some("cgroup2") => "v2",
        _ if fstype_at("/sys/fs/cgroup/unified").as_deref() == Some("cgroup2") => "hybrid",
        _ => "v1",
    }
}

#[test]
fn ns_inodes_match_proc() {
    let env = Env::with_busybox();
    let c = Running::start(&env, "x", &[]);
    let v = json(&env.nsbox(&["ns", "--format", "json", "x"]));
    assert_eq!(v["Pid"], c.pid);
    let list = v["Namespaces"].as_array().expect("Namespaces");
    for kind in ["cgroup", "ipc", "mnt", "net", "pid", "uts", "user"] {
        let e = list
            .iter()
            .find(|e| e["Type"] == kind)
            .unwrap_or_else(|| panic!("{kind} missing: {v}"));
        let inside = inode(&format!("/proc/{}/ns/{kind}", c.pid)).unwrap();
        let host = inode(&format!("/proc/self/ns/{kind}")).unwrap();
        assert_eq!(e["Container"], inside, "{kind}");
        assert_eq!(e["Host"], host, "{kind}");
        assert_eq!(e["Shared"], inside == host, "{kind}");
    }
    // What nsbox creates: new pid, net, mnt, uts, ipc, cgroup; the user namespace is shared.
    for kind in ["cgroup", "ipc", "mnt", "net", "pid", "uts"] {
        let e = list.iter().find(|e| e["Type"] == kind).unwrap();
        assert_eq!(e["Shared"], false, "{kind} is new: {e}");
    }
    let net = list.iter().find(|e| e["Type"] == "net").unwrap();
    assert_eq!(net["Meaning"], "own network stack, only lo");
    let table = env.ok(&["ns", "x"]);
    assert!(table.lines().any(|l| l.starts_with("NAMESPACE")), "{table}");
    let pid_line = table
        .lines()
        .find(|l| l.starts_with("pid "))
        .expect("pid row");
    assert!(
        pid_line.contains(&format!("host pid {} is pid 1 inside", c.pid)),
        "{pid_line}"
    );
}

#[test]
fn cgroup_shows_the_limits_that_were_set() {
    let env = Env::with_busybox();
    let _c = Running::start(&env, "lim", &["-m", "48m", "--pids-limit", "11"]);
    let v = json(&env.nsbox(&["cgroup", "--format", "json", "lim"]));
    let mode = cgroup_mode();
    assert_eq!(v["Mode"], mode, "{v}");
    let limits = &v["Limits"];
    let (mem_file, usage_file) = if mode == "v2" {
        ("memory.max", "memory.current")
    } else {
        ("memory.limit_in_bytes", "memory.usage_in_bytes")
    };
    assert_eq!(limits[mem_file], 48 << 20, "{v}");
    assert_eq!(limits["pids.max"], 11, "{v}");
    assert_eq!(
        v["Usage"]["pids.current"], 1,
        "sleep is the only process: {v}"
    );
    assert!(v["Usage"][usage_file].as_u64().unwrap_or(0) > 0, "{v}");
    let oom_key = if mode == "v2" {
        "memory.events oom_kill"
    } else {
        "memory.oom_control oom_kill"
    };
    assert_eq!(v["Events"][oom_key], 0, "{v}");
    // Every path the view names is a real directory of this container's cgroup.
    let paths = v["Paths"].as_object().expect("Paths");
    assert!(!paths.is_empty());
    for p in paths.values() {
        let p = p.as_str().unwrap();
        assert!(std::path::Path::new(p).is_dir(), "{p}");
        assert!(p.contains("nsbox-"), "{p}");
    }
    let table = env.ok(&["cgroup", "lim"]);
    let row = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(mem_file))
        .unwrap_or_else(|| panic!("{mem_file} row: {table}"));
    assert!(row.contains("48MiB"), "{row}");
}

#[test]
fn ns_and_cgroup_refuse_a_stopped_container() {
    let env = Env::with_busybox();
    env.ok(&["run", "--name", "done", "busybox", "true"]);
    for cmd in ["ns", "cgroup"] {
        let out = env.nsbox(&[cmd, "done"]);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", stderr(&out));
        assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
    }
    let out = env.nsbox(&["ns", "nosuch"]);
    assert_ne!(out.status.code(), Some(0));
    env.ok(&["rm", "done"]);
}

#[test]
fn info_reports_this_hosts_cgroup_mode_and_counts() {
    let env = Env::with_busybox();
    env.ok(&["volume", "create", "v1"]);
    env.ok(&["run", "--name", "stopped", "busybox", "true"]);
    let v = json(&env.nsbox(&["info", "--format", "json"]));
    let mode = cgroup_mode();
    assert_eq!(v["CgroupMode"], mode, "{v}");
    assert_eq!(v["CgroupVersion"], if mode == "v2" { 2 } else { 1 });
    let ctrls = &v["CgroupControllers"];
    if mode == "v2" {
        assert!(
            ctrls["v2"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "memory"),
            "{v}"
        );
    } else {
        assert!(
            ctrls["v1"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "memory"),
            "{v}"
        );
    }
    assert_eq!(v["Overlay"], true);
    assert_eq!(v["Images"], 1);
    assert_eq!(v["Containers"], 1);
    assert_eq!(v["ContainersStopped"], 1);
    assert_eq!(v["ContainersRunning"], 0);
    assert_eq!(v["Volumes"], 1);
    assert_eq!(v["DataRoot"], env.root().to_string_lossy().as_ref());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(v["Kernel"], kernel.trim());
    let table = env.ok(&["info"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("Cgroup mode"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains(&format!("{mode}:")), "{row}");
    env.ok(&["rm", "stopped"]);
    env.ok(&["volume", "rm", "v1"]);
}

#[test]
fn info_on_an_empty_root_creates_nothing() {
    let env = Env::new();
    let v = json(&env.nsbox(&["info", "--format", "json"]));
    assert_eq!(v["Images"], 0);
    assert_eq!(v["Containers"], 0);
    assert!(!env.root().join("containers").exists());
}
