//! `nsbox run` against the real kernel: namespaces, overlay layers, exit codes,
//! Docker's env/workdir/user rules, --read-only, ps/rm, and nothing left behind.

mod common;

use common::{stderr, stdout, Env};
use std::path::Path;

fn run_ok(env: &Env, args: &[&str]) -> String {
    let mut full = vec!["run", "--rm"];
    full.extend_from_slice(args);
    env.ok(&full)
}

fn containers_in(env: &Env) -> usize {
    std::fs::read_dir(env.root().join("containers"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn namespaces_are_new() {
    let env = Env::with_busybox();
    let out = run_ok(&env, &["busybox", "sh", "-c", "echo $$; hostname; ls /sys/class/net; for n in pid net mnt uts ipc; do readlink /proc/self/ns/$n; done"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "the command is pid 1: {out}");
    assert_eq!(
        lines[1].len(),
        12,
        "default hostname is the short id: {out}"
    );
    assert_eq!(lines[2], "lo", "the network namespace has only lo: {out}");
    for (i, ns) in ["pid", "net", "mnt", "uts", "ipc"].iter().enumerate() {
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_ne!(
            lines[3 + i],
            host.to_string_lossy(),
            "{ns} namespace is new"
        );
    }
}

#[test]
fn loopback_is_up_and_hostname_flag_applies() {
    let env = Env::with_busybox();
    let out = run_ok(
        &env,
        &[
            "--hostname",
            "box1",
            "busybox",
            "sh",
            "-c",
            "hostname; cat /etc/hostname; grep box1 /etc/hosts; ip -o link show lo",
        ],
    );
    assert!(out.starts_with("box1\nbox1\n"), "{out}");
    assert!(out.contains("127.0.1.1\tbox1"), "{out}");
    assert!(out.contains("UP"), "lo is up: {out}");
}

#[test]
fn root_is_the_image_overlay_and_mount_table_is_docker_like() {
    let env = Env::with_busybox();
    let out = run_ok(&env, &["busybox", "cat", "/proc/self/mountinfo"]);
    let root_line = out
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .expect("a root mount");
    assert!(
        root_line.contains(" - overlay overlay "),
        "root is overlay: {root_line}"
    );
    for mp in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
    ] {
        assert!(
            out.lines().any(|l| l.split(' ').nth(4) == Some(mp)),
            "{mp} mounted: {out}"
        );
    }
    let sys = out
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/sys"))
        .unwrap();
    assert!(
        sys.split(' ').nth(5).unwrap().starts_with("ro"),
        "/sys is read-only: {sys}"
    );
    // No host mount point is visible (the overlay's options name host dirs, as in Docker).
    let root = env.root().to_str().unwrap();
    let points: Vec<&str> = out.lines().filter_map(|l| l.split(' ').nth(4)).collect();
    assert!(
        !points
            .iter()
            .any(|mp| mp.starts_with(root) || *mp == "/work"),
        "{out}"
    );
}

#[test]
fn minimal_dev_and_masked_paths() {
    let env = Env::with_busybox();
    let out = run_ok(&env, &["busybox", "sh", "-c", "ls /dev; echo ---; cat /proc/kcore | wc -c; ls /sys/firmware | wc -l; echo x > /proc/sysrq-trigger 2>&1 || echo ro"]);
    for d in [
        "null", "zero", "full", "tty", "random", "urandom", "ptmx", "pts", "shm", "mqueue",
    ] {
        assert!(out.lines().any(|l| l == d), "/dev/{d} present: {out}");
    }
    assert!(
        !out.lines().any(|l| l == "sda" || l == "vda" || l == "kmsg"),
        "no host devices: {out}"
    );
    let after: Vec<&str> = out.split("---\n").nth(1).unwrap().lines().collect();
    assert_eq!(after[0], "0", "/proc/kcore is masked");
    assert_eq!(after[1], "0", "/sys/firmware is masked");
    assert!(
        out.contains("ro") || out.contains("Read-only"),
        "/proc/sysrq-trigger read-only: {out}"
    );
}

#[test]
fn whiteout_and_opaque_dir_of_layer_two_are_honoured() {
    let env = Env::with_busybox();
    let out = run_ok(
        &env,
        &[
            "busybox",
            "sh",
            "-c",
            "ls /etc/motd 2>&1; ls /etc/skel-demo; cat /etc/nsbox-release >/dev/null && echo added",
        ],
    );
    assert!(
        out.contains("No such file"),
        "layer 2 deleted /etc/motd: {out}"
    );
    let listing: Vec<&str> = out.lines().skip(1).take_while(|l| *l != "added").collect();
    assert_eq!(
        listing,
        vec!["c"],
        "opaque dir shows only layer 2's content: {out}"
    );
    assert!(out.contains("added"));
}

#[test]
fn exit_codes_follow_docker() {
    let env = Env::with_busybox();
    let code = |args: &[&str]| {
        let mut full = vec!["run", "--rm", "busybox"];
        full.extend_from_slice(args);
        let out = env.nsbox(&full);
        (out.status.code().unwrap(), stderr(&out))
    };
    assert_eq!(code(&["true"]).0, 0);
    assert_eq!(code(&["sh", "-c", "exit 7"]).0, 7);
    let (c, err) = code(&["/etc/passwd"]);
    assert_eq!(c, 126, "{err}");
    assert!(err.contains("permission denied"), "{err}");
    let (c, err) = code(&["no-such-command"]);
    assert_eq!(c, 127, "{err}");
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    let (c, _) = code(&["/no/such/file"]);
    assert_eq!(c, 127);
    // Killed by a signal: 128 + N. pid 1 ignores signals without a handler, so the
    // shell kills a child and then itself with the child's status as Docker reports it.
    assert_eq!(
        code(&["sh", "-c", "kill -TERM $$; sleep 1; exit 5"]).0,
        5,
        "pid 1 without a handler ignores SIGTERM"
    );
    assert_eq!(
        containers_in(&env),
        0,
        "--rm leaves no container, even on failure"
    );
}

#[test]
fn killed_by_sigkill_is_137() {
    let env = Env::with_busybox();
    let mut child = env
        .cmd()
        .args(["run", "--name", "victim", "busybox", "sleep", "30"])
        .spawn()
        .unwrap();
    let state_pid = || -> Option<i32> {
        let dir = std::fs::read_dir(env.root().join("containers"))
            .ok()?
            .next()?
            .ok()?
            .path();
        let st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("state.json")).ok()?).ok()?;
        st["pid"].as_i64().filter(|p| *p > 0).map(|p| p as i32)
    };
    let mut pid = None;
    for _ in 0..200 {
        pid = state_pid();
        if pid.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = pid.expect("container started");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let status = common::wait_child(&mut child, 30);
    assert_eq!(status.code(), Some(137));
    let ps = env.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited (137)"), "{ps}");
    env.ok(&["rm", "victim"]);
}

#[test]
fn env_workdir_and_user_merge_with_the_image() {
    let env = Env::with_busybox();
    let envfile = env.root().join("vars.env");
    std::fs::write(&envfile, "# comment\nFROM_FILE=yes\nFOO=file\n").unwrap();
    let out = env
        .cmd()
        .env("HOSTVAR", "fromhost")
        .args([
            "run",
            "--rm",
            "--env-file",
            envfile.to_str().unwrap(),
            "-e",
            "FOO=bar",
            "-e",
            "HOSTVAR",
            "-w",
            "/var/tmp",
            "busybox",
        ])
        .args([
            "sh",
            "-c",
            "echo $FOO $FROM_FILE $HOSTVAR; pwd; echo $PATH; id -u; echo $HOME",
        ])
        .output()
        .unwrap();
    let out = stdout(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "bar yes fromhost",
        "-e overrides --env-file; bare -e copies the host value: {out}"
    );
    assert_eq!(lines[1], "/var/tmp");
    assert!(lines[2].contains("/usr/bin"), "PATH from the image: {out}");
    assert_eq!(lines[3], "0");
    assert_eq!(lines[4], "/root");

    let out = run_ok(
        &env,
        &[
            "-u",
            "app",
            "busybox",
            "sh",
            "-c",
            "id -u; id -g; echo $HOME",
        ],
    );
    assert_eq!(out, "1000\n1000\n/home/app\n");
    let out = run_ok(
        &env,
        &["-u", "nobody:app", "busybox", "sh", "-c", "id -u; id -g"],
    );
    assert_eq!(out, "65534\n1000\n");
    let out = run_ok(
        &env,
        &["-u", "4242:4343", "busybox", "sh", "-c", "id -u; id -g"],
    );
    assert_eq!(out, "4242\n4343\n");
    let bad = env.nsbox(&["run", "--rm", "-u", "nosuchuser", "busybox", "true"]);
    assert_eq!(bad.status.code(), Some(125));
    assert!(stderr(&bad).contains("nosuchuser"), "{}", stderr(&bad));
    // A missing workdir is created, as Docker does.
    assert_eq!(
        run_ok(&env, &["-w", "/new/dir", "busybox", "pwd"]),
        "/new/dir\n"
    );
}

#[test]
fn entrypoint_resets_cmd() {
    let env = Env::with_busybox();
    assert_eq!(
        run_ok(&env, &["--entrypoint", "echo", "busybox", "a", "b"]),
        "a b\n"
    );
    assert_eq!(
        run_ok(
            &env,
            &["--entrypoint", "hostname", "--hostname", "h", "busybox"]
        ),
        "h\n"
    );
}

#[test]
fn read_only_root() {
    let env = Env::with_busybox();
    let out = env.nsbox(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("Read-only file system") || stdout(&out).contains("Read-only"),
        "{}",
        stderr(&out)
    );
    // Docker's /etc files stay writable binds; /dev/shm is still a tmpfs.
    run_ok(
        &env,
        &["--read-only", "busybox", "sh", "-c", "echo ok > /dev/shm/x"],
    );
}

#[test]
fn stdin_is_passed_only_with_i() {
    let env = Env::with_busybox();
    let mut c = env.cmd();
    c.args(["run", "--rm", "-i", "busybox", "cat"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"through stdin\n")
        .unwrap();
    let out = common::output_within(child, 30);
    assert_eq!(stdout(&out), "through stdin\n");
    // Without -i the container reads EOF.
    assert_eq!(
        run_ok(&env, &["busybox", "sh", "-c", "cat; echo done"]),
        "done\n"
    );
}

#[test]
fn ps_and_rm_lifecycle() {
    let env = Env::with_busybox();
    let out = env.nsbox(&[
        "run",
        "--name",
        "keep",
        "busybox",
        "sh",
        "-c",
        "echo data > /tmp/f; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        env.ok(&["ps"]).lines().count(),
        1,
        "not running: only the header"
    );
    let ps = env.ok(&["ps", "-a"]);
    let header = ps.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "NAMES",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = ps.lines().nth(1).unwrap();
    assert!(
        row.contains("Exited (3)") && row.contains("keep") && row.contains("busybox"),
        "{row}"
    );
    let id = env.ok(&["ps", "-aq"]).trim().to_string();
    assert_eq!(id.len(), 12);
    let full = std::fs::read_dir(env.root().join("containers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        std::fs::read_to_string(full.join("upper/tmp/f")).unwrap(),
        "data\n",
        "upper dir kept until rm"
    );
    assert!(env.mounts().is_empty(), "overlay unmounted after exit");

    // Names are unique.
    let dup = env.nsbox(&["run", "--name", "keep", "busybox", "true"]);
    assert_eq!(dup.status.code(), Some(125));
    assert!(stderr(&dup).contains("already in use"), "{}", stderr(&dup));

    env.ok(&["rm", &id[..5]]);
    assert!(!full.exists());
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    let gone = env.nsbox(&["rm", "keep"]);
    assert_ne!(gone.status.code(), Some(0));
    assert!(
        stderr(&gone).contains("No such container"),
        "{}",
        stderr(&gone)
    );
}

#[test]
fn rm_force_kills_a_running_container() {
    let env = Env::with_busybox();
    let mut child = env
        .cmd()
        .args(["run", "--name", "long", "busybox", "sleep", "60"])
        .spawn()
        .unwrap();
    let mut running = false;
    for _ in 0..200 {
        if env.ok(&["ps", "-q"]).lines().count() == 1 {
            running = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(running);
    let refused = env.nsbox(&["rm", "long"]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(stderr(&refused).contains("cannot remove a running container"));
    env.ok(&["rm", "-f", "long"]);
    assert_eq!(common::wait_child(&mut child, 30).code(), Some(137));
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert_eq!(containers_in(&env), 0);
}

#[test]
fn bad_input_is_one_line_and_125_with_nothing_left() {
    let env = Env::with_busybox();
    for args in [
        vec!["run", "--bogus-flag", "busybox"],
        vec!["run", "--rm", "no-such-image"],
        vec!["run"],
        vec!["run", "--rm", "-w", "relative", "busybox", "true"],
    ] {
        let out = env.nsbox(&args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).trim().is_empty());
    }
    let out = env.nsbox(&["run", "--rm", "no-such-image"]);
    assert!(stderr(&out).contains("No such image"), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1);
    assert_eq!(containers_in(&env), 0);
    assert!(
        std::fs::read_dir(env.root().join("names"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0
    );
}

#[test]
fn bundle_runs_like_crun() {
    if !common::require_tool("runc") {
        return;
    }
    let env = Env::with_busybox();
    // A bundle whose rootfs is a copy of the image, made by running the image itself.
    let bundle = env.root().join("bundle");
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    let status = std::process::Command::new("runc")
        .arg("spec")
        .current_dir(&bundle)
        .status();
    assert!(status.is_ok_and(|s| s.success()), "runc spec failed");
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = false.into();
    cfg["process"]["args"] = serde_json::json!(["/bin/sh", "-c", "echo $$; exit 4"]);
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let out = env.nsbox(&["run", "--bundle", bundle.to_str().unwrap(), "--name", "b1"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1\n");
    assert_eq!(containers_in(&env), 0, "a bundle run leaves no state");
    assert!(Path::new(&bundle).join("rootfs/bin/busybox").exists());
}
