//! What confines a container: probes run inside containers for Docker's default, `--cap-drop
//! ALL`, `--privileged` and `--security-opt seccomp=unconfined`, each with the result Docker
//! (runc, moby's default seccomp profile) gives written next to it. Raw syscalls come from a
//! tiny static C probe (tests/security/probe.c) built here with `gcc -static` and bound into
//! the container read-only.

mod common;

use common::{stderr, stdout, Env};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every probe, in the order the probe runs them (unshare_user in a child of its own).
const PROBES: &[&str] = &[
    "mount",
    "mknod",
    "open_mknoded",
    "keyctl",
    "unshare_user",
    "io_uring_setup",
    "perf_event_open",
    "procsys_write",
    "kcore_read",
    "sethostname",
    "clock_settime",
];

/// Build the probe into the Env's directory; None (after saying why) if gcc cannot, which
/// fails the test under CI=true.
fn probe(env: &Env) -> Option<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/security/probe.c");
    let out = env.root().join("probe");
    let built = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if built {
        return Some(out);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "gcc -static (gcc, libc6-dev) is needed to build the probe"
    );
    eprintln!("gcc -static does not work here; skipping");
    None
}

/// Run the probes in a busybox container with these flags: /proc/self/status lines, the
/// probe results, and the /sys and /proc/sysrq-trigger mount options.
fn probes(env: &Env, probe: &Path, flags: &[&str]) -> HashMap<String, String> {
    let bind = format!("{}:/probe:ro", probe.display());
    let script = format!(
        "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status; \
         /probe {}; \
         echo sysfs=$(awk '$2==\"/sys\" {{split($4,o,\",\"); print o[1]}}' /proc/mounts); \
         echo sysrq=$(awk '$2==\"/proc/sysrq-trigger\" {{split($4,o,\",\"); print o[1]}}' /proc/mounts)",
        PROBES.join(" ")
    );
    let mut args = vec!["run", "--rm", "-v", &bind];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    let text = env.ok(&args);
    let mut map = HashMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once([':', '=']) {
            map.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    map
}

fn check(got: &HashMap<String, String>, want: &[(&str, &str)]) {
    let wrong: Vec<String> = want
        .iter()
        .filter(|(k, v)| got.get(*k).map(String::as_str) != Some(*v))
        .map(|(k, v)| format!("{k}: want {v}, got {:?}", got.get(*k)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}\nall: {got:#?}");
}

/// /proc/sysrq-trigger is bound read-only, where this kernel has one.
/// What opening an allowed `b 7:0` gives: "ok" with the loop driver, else ENXIO (the
/// device cgroup let it through and no driver answered; a refusal would be EPERM).
fn allowed_loop0() -> &'static str {
    if Path::new("/sys/block/loop0").exists() {
        "ok"
    } else {
        "ENXIO"
    }
}

/// perf_event_open without CAP_PERFMON: allowed for self-monitoring unless the kernel's
/// perf_event_paranoid forbids unprivileged use altogether (above 2, as Debian's kernels).
fn unprivileged_perf() -> &'static str {
    let level = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .unwrap_or(2);
    if level > 2 {
        "EACCES"
    } else {
        "ok"
    }
}

fn sysrq_ro() -> &'static str {
    if Path::new("/proc/sysrq-trigger").exists() {
        "ro"
    } else {
        ""
    }
}

/// nsbox's own bounding set: what `--privileged` can hand on.
fn own_bounding_set() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:").map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

#[test]
fn default_confinement_is_dockers() {
    let env = Env::with_busybox();
    let Some(p) = probe(&env) else { return };
    let got = probes(&env, &p, &[]);
    check(
        &got,
        &[
            ("CapEff", "00000000a80425fb"), // Docker's 14 capabilities
            ("CapBnd", "00000000a80425fb"),
            ("NoNewPrivs", "0"),
            ("Seccomp", "2"), // filter mode
            ("Seccomp_filters", "1"),
            ("mount", "EPERM"),           // seccomp: needs CAP_SYS_ADMIN
            ("mknod", "ok"),              // CAP_MKNOD, device cgroup allows "m" for all
            ("open_mknoded", "EPERM"),    // device cgroup: b 7:0 not allowed
            ("keyctl", "EPERM"),          // seccomp: not on the allow list
            ("unshare_user", "EPERM"),    // seccomp: needs CAP_SYS_ADMIN
            ("io_uring_setup", "EPERM"),  // seccomp: refused since moby 25
            ("perf_event_open", "EPERM"), // seccomp: needs CAP_SYS_ADMIN or CAP_PERFMON
            ("procsys_write", "EROFS"),   // /proc/sys is read-only
            ("sethostname", "EPERM"),     // seccomp and no CAP_SYS_ADMIN
            ("clock_settime", "EPERM"),   // seccomp: needs CAP_SYS_TIME
            ("sysfs", "ro"),
            ("sysrq", sysrq_ro()),
        ],
    );
}

#[test]
fn cap_drop_all_keeps_seccomp_and_takes_every_capability() {
    let env = Env::with_busybox();
    let Some(p) = probe(&env) else { return };
    let got = probes(&env, &p, &["--cap-drop", "ALL"]);
    check(
        &got,
        &[
            ("CapEff", "0000000000000000"),
            ("CapBnd", "0000000000000000"),
            ("Seccomp", "2"),
            ("Seccomp_filters", "1"),
            ("mount", "EPERM"),
            ("mknod", "EPERM"),         // no CAP_MKNOD
            ("open_mknoded", "ENOENT"), // nothing was made
            ("keyctl", "EPERM"),
            ("unshare_user", "EPERM"),
            ("io_uring_setup", "EPERM"),
            ("perf_event_open", "EPERM"),
            ("procsys_write", "EROFS"),
            ("sethostname", "EPERM"),
            ("clock_settime", "EPERM"),
            ("sysfs", "ro"),
        ],
    );
}

#[test]
fn privileged_has_every_capability_no_seccomp_and_rw_sys() {
    let env = Env::with_busybox();
    let Some(p) = probe(&env) else { return };
    let got = probes(&env, &p, &["--privileged"]);
    let all = own_bounding_set();
    check(
        &got,
        &[
            ("CapEff", all.as_str()), // all nsbox holds
            ("CapBnd", all.as_str()),
            ("NoNewPrivs", "0"),
            ("Seccomp", "0"),
            ("Seccomp_filters", "0"),
            ("mount", "ok"),
            ("mknod", "ok"),
            ("open_mknoded", allowed_loop0()), // device cgroup allows everything
            ("keyctl", "ok"),
            ("unshare_user", "ok"),
            ("io_uring_setup", "ok"),
            ("perf_event_open", "ok"),
            ("procsys_write", "ok"),     // no read-only paths
            ("sethostname", "ok"),       // in its own UTS namespace
            ("clock_settime", "EINVAL"), // reaches the kernel (CLOCK_MONOTONIC is not settable)
            ("sysfs", "rw"),
            ("sysrq", ""), // not bound read-only (never written to: it is the host's)
        ],
    );
    // Every host device node is there.
    let out = env.ok(&["run", "--rm", "--privileged", "busybox", "ls", "/dev"]);
    if Path::new("/dev/loop0").exists() {
        assert!(out.lines().any(|l| l == "loop0"), "{out}");
    }
    assert!(out.lines().any(|l| l == "null"), "{out}");
}

#[test]
fn seccomp_unconfined_leaves_only_capabilities() {
    let env = Env::with_busybox();
    let Some(p) = probe(&env) else { return };
    let got = probes(&env, &p, &["--security-opt", "seccomp=unconfined"]);
    check(
        &got,
        &[
            ("CapEff", "00000000a80425fb"),
            ("Seccomp", "0"),
            ("Seccomp_filters", "0"),
            ("mount", "EPERM"), // no CAP_SYS_ADMIN
            ("mknod", "ok"),
            ("open_mknoded", "EPERM"),
            ("keyctl", "ok"),
            ("unshare_user", "ok"), // a user namespace needs no capability
            ("io_uring_setup", "ok"),
            ("perf_event_open", unprivileged_perf()), // per perf_event_paranoid
            ("procsys_write", "EROFS"),
            ("sethostname", "EPERM"),
            ("clock_settime", "EINVAL"),
            ("sysfs", "ro"),
            ("sysrq", sysrq_ro()),
        ],
    );
}

#[test]
fn cap_add_sys_admin_opens_the_syscalls_that_need_it() {
    let env = Env::with_busybox();
    let Some(p) = probe(&env) else { return };
    let got = probes(&env, &p, &["--cap-add", "SYS_ADMIN"]);
    check(
        &got,
        &[
            ("CapEff", "00000000a82425fb"),
            ("Seccomp", "2"),
            ("mount", "ok"),
            ("unshare_user", "ok"),
            ("sethostname", "ok"),
            ("keyctl", "EPERM"), // on no allow list, whatever the capabilities
            ("clock_settime", "EPERM"),
        ],
    );
}

#[test]
fn no_new_privileges_loads_the_filter_late() {
    let env = Env::with_busybox();
    let Some(p) = probe(&env) else { return };
    let got = probes(
        &env,
        &p,
        &["--security-opt", "no-new-privileges", "--user", "1000"],
    );
    check(
        &got,
        &[
            ("NoNewPrivs", "1"),
            ("Seccomp", "2"),
            ("Seccomp_filters", "1"),
            ("CapEff", "0000000000000000"),
            ("keyctl", "EPERM"),
        ],
    );
}

#[test]
fn a_profile_file_replaces_the_default() {
    let env = Env::with_busybox();
    let profile = env.root().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = env.nsbox(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "sh",
        "-c",
        "mkdir /tmp/d; echo rc=$?; unshare -U true && echo unshare=ok",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "rc=1\nunshare=ok\n");
    let bad = env.root().join("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let opt = format!("seccomp={}", bad.display());
    let out = env.nsbox(&["run", "--rm", "--security-opt", &opt, "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).starts_with("nsbox: "), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

/// A minimal OCI bundle around the host's static busybox, with this `linux.seccomp`.
fn bundle(env: &Env, seccomp: serde_json::Value, script: &str) -> PathBuf {
    let bundle = env.root().join("bundle");
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::create_dir_all(rootfs.join("tmp")).unwrap();
    std::fs::create_dir_all(rootfs.join("proc")).unwrap();
    std::fs::create_dir_all(rootfs.join("dev")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    let caps = serde_json::json!(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL"]);
    let cfg = serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/sh", "-c", script],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}
        },
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}],
            "seccomp": seccomp
        }
    });
    std::fs::write(
        bundle.join("config.json"),
        serde_json::to_vec_pretty(&cfg).unwrap(),
    )
    .unwrap();
    bundle
}

#[test]
fn bundle_seccomp_errno_rule_is_enforced() {
    let env = Env::new();
    let seccomp = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    let b = bundle(
        &env,
        seccomp,
        "grep -E '^Seccomp:' /proc/self/status; mkdir /tmp/d && echo made; exit 3",
    );
    let out = env.nsbox(&["run", "--bundle", b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Seccomp:\t2\n");
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "{}",
        stderr(&out)
    );
    assert!(!b.join("rootfs/tmp/d").exists());
}

#[test]
fn bundle_seccomp_notify_needs_a_reachable_listener() {
    let env = Env::new();
    // No listenerPath: refused before anything runs (runc).
    let seccomp = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let b = bundle(&env, seccomp, "echo ran");
    let out = env.nsbox(&["run", "--bundle", b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("listenerPath"), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    // A listenerPath nobody listens at: the container never runs, nothing is left.
    std::fs::remove_dir_all(&b).unwrap();
    let seccomp = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": env.root().join("nowhere.sock"),
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let b = bundle(&env, seccomp, "echo ran");
    let out = env.nsbox(&["run", "--rm", "--bundle", b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("nowhere.sock"), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    env.assert_no_containers();
}

#[test]
fn security_opts_docker_accepts_and_refuses() {
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "label=disable",
        "busybox",
        "true",
    ]);
    for (opt, want) in [
        ("label=type:svirt_apache_t", "only label=disable"),
        ("apparmor=unconfined", "AppArmor is not supported"),
        ("bogus", "invalid --security-opt"),
    ] {
        let out = env.nsbox(&["run", "--rm", "--security-opt", opt, "busybox", "true"]);
        assert_eq!(out.status.code(), Some(125), "{opt}");
        let err = stderr(&out);
        assert!(
            err.starts_with("nsbox: ") && err.contains(want),
            "{opt}: {err}"
        );
    }
    let out = env.nsbox(&["run", "--rm", "--cap-add", "BOGUS", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("unknown capability: \"CAP_BOGUS\""));
}

#[test]
fn sysctls_are_namespaced_validated_and_applied() {
    let env = Env::with_busybox();
    let out = env.ok(&[
        "run",
        "--rm",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--sysctl",
        "kernel.shmmni=1234",
        "busybox",
        "cat",
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/kernel/shmmni",
    ]);
    assert_eq!(out, "1\n1234\n");
    for (flags, want) in [
        (&["--sysctl", "kernel.hostname=x"][..], "is not allowed"),
        (
            &["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"][..],
            "not allowed in host network namespace",
        ),
        (&["--sysctl", "vm.swappiness=1"][..], "is not allowed"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let out = env.nsbox(&args);
        assert_eq!(out.status.code(), Some(125), "{flags:?}");
        assert!(stderr(&out).contains(want), "{flags:?}: {}", stderr(&out));
    }
}

#[test]
fn ulimit_group_add_device_and_cgroup_rule() {
    let env = Env::with_busybox();
    let out = env.ok(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=512:1024",
        "--group-add",
        "4242",
        "busybox",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; id -G",
    ]);
    assert_eq!(out, format!("512\n1024\n{}4242\n", first_groups(&env)));
    // --device: the node exists where asked, with the host's numbers, and can be used.
    let out = env.ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/null:/dev/mynull:rw",
        "busybox",
        "sh",
        "-c",
        "stat -c '%t:%T' /dev/mynull; echo hi > /dev/mynull && echo wrote",
    ]);
    assert_eq!(out, "1:3\nwrote\n");
    // --device-cgroup-rule lets a node made inside be opened.
    let Some(p) = probe(&env) else { return };
    let bind = format!("{}:/probe:ro", p.display());
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "--device-cgroup-rule",
        "b 7:0 r",
        "busybox",
        "/probe",
        "mknod",
        "open_mknoded",
    ]);
    assert_eq!(out, format!("mknod=ok\nopen_mknoded={}\n", allowed_loop0()));
    let out = env.nsbox(&["run", "--rm", "--device", "/etc/passwd", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
}

/// busybox's root is in groups 0 and 10 (from the image's /etc/group), then ours.
fn first_groups(env: &Env) -> String {
    let out = env.ok(&["run", "--rm", "busybox", "id", "-G"]);
    format!("{} ", out.trim())
}

#[test]
fn read_only_root_with_tmpfs() {
    let env = Env::with_busybox();
    let out = env.ok(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "busybox",
        "sh",
        "-c",
        "touch /tmp/x && echo tmp-ok; touch /x 2>/dev/null || echo root-ro",
    ]);
    assert_eq!(out, "tmp-ok\nroot-ro\n");
}

#[test]
fn explain_narrates_the_seccomp_profile() {
    let env = Env::with_busybox();
    let out = env.nsbox(&["run", "--rm", "--explain", "busybox", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("seccomp"))
        .unwrap_or_else(|| panic!("no seccomp step: {err}"));
    assert!(line.contains("default SCMP_ACT_ERRNO(1)"), "{line}");
    assert!(line.contains("rules"), "{line}");
    assert!(line.contains("SCMP_ARCH_"), "{line}");
}

#[test]
fn exec_runs_under_the_containers_profile() {
    let env = Env::with_busybox();
    let id = env
        .ok(&["run", "-d", "--name", "confined", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    let out = env.nsbox(&[
        "exec",
        &id,
        "sh",
        "-c",
        "grep -E '^Seccomp(_filters)?:' /proc/self/status; unshare -U true || echo refused",
    ]);
    env.ok(&["rm", "-f", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Seccomp:\t2\nSeccomp_filters:\t1\nrefused\n");
}

#[test]
fn bundle_sysctls_must_be_namespaced() {
    let env = Env::new();
    let b = bundle(
        &env,
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}),
        "cat /proc/sys/net/ipv4/ip_forward",
    );
    let cfg_path = b.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let out = env.nsbox(&["run", "--bundle", b.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1\n");
    // A host-wide one is refused, and the host's value is untouched.
    let before = std::fs::read_to_string("/proc/sys/kernel/panic").unwrap();
    cfg["linux"]["sysctl"] = serde_json::json!({"kernel.panic": "7"});
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let out = env.nsbox(&["run", "--bundle", b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125), "{}", stdout(&out));
    assert!(stderr(&out).contains("kernel.panic"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/panic").unwrap(),
        before
    );
}

#[test]
fn group_add_by_name_resolves_in_the_image_and_an_unknown_name_fails_cleanly() {
    let env = Env::with_busybox();
    // The busybox image's /etc/group has app:x:1000.
    let out = env.ok(&["run", "--rm", "--group-add", "app", "busybox", "id", "-G"]);
    assert!(out.split_whitespace().any(|g| g == "1000"), "{out}");
    let out = env.nsbox(&[
        "run",
        "--rm",
        "--group-add",
        "nosuchgroup",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nosuchgroup"), "{err}");
    assert_eq!(env.ok(&["ps", "-aq"]), "", "nothing left behind");
}

#[test]
fn device_dir_adds_every_node_below_it() {
    let env = Env::with_busybox();
    let dir = env.root().join("devdir");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let mk = |p: &Path, minor: &str| {
        let st = Command::new("mknod")
            .arg(p)
            .args(["c", "1", minor])
            .status()
            .expect("mknod");
        assert!(st.success());
    };
    mk(&dir.join("null"), "3");
    mk(&dir.join("sub/zero"), "5");
    let flag = format!("{}:/dev/extra", dir.display());
    let out = env.ok(&[
        "run",
        "--rm",
        "--device",
        &flag,
        "busybox",
        "sh",
        "-c",
        "echo x > /dev/extra/null && head -c 3 /dev/extra/sub/zero | wc -c",
    ]);
    assert_eq!(out.trim(), "3");
    let out = env.nsbox(&["run", "--rm", "--device", "/etc:/x", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "a dir without device nodes");
}

/// What the seccomp agent of the notify test saw: the state message, the trapped syscall
/// numbers and the pid the kernel named.
struct AgentSaw {
    state: serde_json::Value,
    syscalls: Vec<i32>,
}

/// A seccomp agent (as runc's contrib/cmd/seccompagent) at `sock`: accepts one connection,
/// takes the container process state and the notify fd from one message, answers every
/// notification with EPERM until the container's last task is gone (POLLHUP). Every wait
/// has a deadline; the thread always ends.
fn agent(sock: &Path) -> std::thread::JoinHandle<Result<AgentSaw, String>> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::net::UnixListener;
    use std::time::{Duration, Instant};

    let listener = UnixListener::bind(sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let conn = loop {
            match listener.accept() {
                Ok((c, _)) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() > deadline {
                        return Err("no connection within 30s".into());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(format!("accept: {e}")),
            }
        };
        conn.set_nonblocking(false).map_err(|e| e.to_string())?;
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
        let (len, fds) = {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(
                conn.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .map_err(|e| format!("recvmsg: {e}"))?;
            let mut fds = Vec::new();
            for c in msg.cmsgs().map_err(|e| e.to_string())? {
                if let ControlMessageOwned::ScmRights(got) = c {
                    // SAFETY: fds just received with SCM_RIGHTS are ours alone.
                    fds.extend(got.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
                }
            }
            (msg.bytes, fds)
        };
        let state: serde_json::Value =
            serde_json::from_slice(&buf[..len]).map_err(|e| format!("state JSON: {e}"))?;
        let [notify] = <[OwnedFd; 1]>::try_from(fds).map_err(|f| format!("{} fds", f.len()))?;
        let mut syscalls = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("the container's tasks did not end within 30s".into());
            }
            let mut pfd = [PollFd::new(notify.as_fd(), PollFlags::POLLIN)];
            let ms = PollTimeout::try_from(left.as_millis().min(1000) as i32).unwrap();
            match poll(&mut pfd, ms) {
                Ok(0) | Err(nix::Error::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(format!("poll: {e}")),
            }
            let revents = pfd[0].revents().unwrap_or(PollFlags::empty());
            if revents.contains(PollFlags::POLLIN) {
                // SAFETY: zeroed as the kernel requires; plain data, written by the ioctl.
                let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
                // SAFETY: `req` is a valid seccomp_notif for the duration of the call.
                let rc = unsafe {
                    libc::ioctl(notify.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req)
                };
                if rc < 0 {
                    // ENOENT: the task died while we looked; go on until HUP.
                    continue;
                }
                syscalls.push(req.data.nr);
                let mut resp = libc::seccomp_notif_resp {
                    id: req.id,
                    val: 0,
                    error: -libc::EPERM,
                    flags: 0,
                };
                // SAFETY: `resp` is a valid seccomp_notif_resp for the duration of the call.
                let _ = unsafe {
                    libc::ioctl(
                        notify.as_raw_fd(),
                        libc::SECCOMP_IOCTL_NOTIF_SEND,
                        &mut resp,
                    )
                };
            } else if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                return Ok(AgentSaw { state, syscalls });
            }
        }
    })
}

#[test]
fn bundle_seccomp_notify_goes_to_the_listener_which_answers() {
    let env = Env::new();
    let sock = env.root().join("agent.sock");
    let seccomp = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "meta-xyz",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    // The notify fd must not reach the container's process: none of its fds is one.
    let b = bundle(
        &env,
        seccomp,
        "ls -l /proc/$$/fd/ | grep -c seccomp; mkdir /tmp/x; echo rc=$?",
    );
    // Both places init loads the filter: before dropping capabilities, and just before
    // exec (no_new_privs).
    for nnp in [false, true] {
        let cfg_path = b.join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
        cfg["process"]["noNewPrivileges"] = serde_json::json!(nnp);
        // The kernel here (5.19+) takes WAIT_KILLABLE_RECV with the listener.
        if nnp {
            cfg["linux"]["seccomp"]["flags"] =
                serde_json::json!(["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]);
        }
        cfg["annotations"] = serde_json::json!({"org.example.k": "v"});
        std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
        let _ = std::fs::remove_file(&sock);
        let seen = agent(&sock);
        let child = env
            .cmd()
            .args(["run", "--bundle", b.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = common::output_within(child, 60);
        let saw = seen
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("agent: {e}"));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        // grep -c: no seccomp fd among the shell's; mkdir answered EPERM by the agent.
        assert_eq!(stdout(&out), "0\nrc=1\n", "nnp={nnp}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("Operation not permitted"),
            "{}",
            stderr(&out)
        );
        assert!(!b.join("rootfs/tmp/x").exists());
        assert!(
            saw.syscalls
                .iter()
                .any(|&nr| nr == libc::SYS_mkdir as i32 || nr == libc::SYS_mkdirat as i32),
            "{:?}",
            saw.syscalls
        );
        let s = &saw.state;
        assert_eq!(s["ociVersion"], "1.0.2", "{s}");
        assert_eq!(s["fds"], serde_json::json!(["seccompFd"]), "{s}");
        assert_eq!(s["metadata"], "meta-xyz", "{s}");
        let pid = s["pid"].as_i64().unwrap_or(0);
        assert!(pid > 1, "{s}");
        assert_eq!(s["state"]["pid"].as_i64(), Some(pid), "{s}");
        assert_eq!(s["state"]["status"], "creating", "{s}");
        assert_eq!(s["state"]["ociVersion"], "1.0.2", "{s}");
        assert_eq!(s["state"]["bundle"], b.to_str().unwrap(), "{s}");
        assert_eq!(s["state"]["annotations"]["org.example.k"], "v", "{s}");
        let id = s["state"]["id"].as_str().unwrap_or_default();
        assert!(
            id.len() == 64 && id.bytes().all(|c| c.is_ascii_hexdigit()),
            "{s}"
        );
        env.assert_no_containers();
    }
}
