//! `nsbox-runtime`, runc's command line: the lifecycle verbs against the real kernel, as
//! containerd's shim and conmon drive them (create → start → state/exec/kill → delete), and
//! what is left afterwards (nothing).

mod common;

use common::bundle::{cgroup_left, runtime_bin, Bundle};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// Is `pid` a live (not zombie) process?
fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().to_string()))
        .is_some_and(|r| !r.starts_with('Z'))
}

#[test]
fn create_start_exec_kill_delete() {
    let Some(b) = Bundle::new(&["sleep", "300"]) else {
        return;
    };
    let id = unique("life");
    let pid_file = b.path().join("init.pid");
    let bundle = b.path().to_str().unwrap().to_string();
    b.ok(&[
        "create",
        "--bundle",
        &bundle,
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    let st = b.state_of(&id);
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], bundle.as_str());
    let pid = st["pid"].as_i64().expect("pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string(),
        "--pid-file names init"
    );
    // Created: init has built the container and waits, not yet running sleep.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep", "init ran before start");
    b.ok(&["start", &id]);
    assert_eq!(b.status(&id), "running");
    common::wait_until(10, "init execs sleep", || {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    let out = b.rt(&["start", &id]);
    assert_eq!(out.status.code(), Some(1), "second start");
    assert!(
        common::stderr(&out).contains("running"),
        "{}",
        common::stderr(&out)
    );

    // exec, foreground: output and exit status are the process's.
    let out = b.rt(&["exec", &id, "sh", "-c", "echo in-$HOSTNAME; exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", common::stderr(&out));
    assert!(
        common::stdout(&out).starts_with("in-"),
        "{}",
        common::stdout(&out)
    );
    // exec --detach: the pid file names the process itself, in the container's cgroup.
    let exec_pid_file = b.path().join("exec.pid");
    b.ok(&[
        "exec",
        "--detach",
        "--pid-file",
        exec_pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "200",
    ]);
    let epid: i64 = std::fs::read_to_string(&exec_pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(epid), "exec'd process alive");
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let theirs = std::fs::read_to_string(format!("/proc/{epid}/cgroup")).unwrap();
    assert_eq!(own, theirs, "exec'd process in the container's cgroups");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap(),
        std::fs::read_link(format!("/proc/{epid}/ns/pid")).unwrap(),
        "exec'd process in the container's pid namespace"
    );
    // --process FILE, as the shims pass it.
    let proc_json = b.path().join("process.json");
    std::fs::write(
        &proc_json,
        r#"{"args":["sh","-c","echo $FOO; pwd"],"env":["FOO=from-process-json","PATH=/bin"],
           "cwd":"/tmp","user":{"uid":0,"gid":0}}"#,
    )
    .unwrap();
    let out = b.ok(&["exec", "--process", proc_json.to_str().unwrap(), &id]);
    assert_eq!(out, "from-process-json\n/tmp\n");
    let out = b.rt(&["exec", &id, "no-such-command"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        common::stderr(&out).contains("executable file not found"),
        "{}",
        common::stderr(&out)
    );

    let out = b.rt(&["delete", &id]);
    assert_eq!(out.status.code(), Some(1), "delete of a running container");
    // sleep is pid 1 of its namespace: TERM (no handler) is ignored there, KILL is not.
    b.ok(&["kill", &id, "TERM"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(b.status(&id), "running", "pid 1 ignores an unhandled TERM");
    b.ok(&["kill", &id, "KILL"]);
    common::wait_until(10, "container stops", || b.status(&id) == "stopped");
    assert!(!alive(epid), "the exec'd process went with init");
    assert!(
        b.ok(&["list", "-q"]).lines().any(|l| l == id),
        "a stopped container is still listed"
    );
    b.ok(&["delete", &id]);
    assert_eq!(b.ids(), Vec::<String>::new(), "record removed");
    assert_eq!(cgroup_left(&id), None, "cgroup removed");
    let out = b.rt(&["state", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("does not exist"));
}

#[test]
fn run_passes_the_exit_status_and_leaves_nothing() {
    let Some(b) = Bundle::new(&["sh", "-c", "echo out; echo err >&2; exit 3"]) else {
        return;
    };
    let id = unique("run");
    let bundle = b.path().to_str().unwrap().to_string();
    let out = b.rt(&["run", "--bundle", &bundle, &id]);
    assert_eq!(out.status.code(), Some(3), "{}", common::stderr(&out));
    assert_eq!(common::stdout(&out), "out\n");
    assert_eq!(common::stderr(&out), "err\n");
    assert_eq!(b.ids(), Vec::<String>::new());
    assert_eq!(cgroup_left(&id), None);
}

#[test]
fn delete_force_kills_and_removes() {
    let Some(b) = Bundle::new(&["sleep", "300"]) else {
        return;
    };
    let id = unique("force");
    assert!(b.create(&id).status.success());
    let pid = b.state_of(&id)["pid"].as_i64().unwrap();
    // Created, never started: --force still takes it all away.
    b.ok(&["delete", "--force", &id]);
    common::wait_until(10, "init gone", || !alive(pid));
    assert_eq!(b.ids(), Vec::<String>::new());
    assert_eq!(cgroup_left(&id), None);
    // And a running one.
    assert!(b.create(&id).status.success());
    b.ok(&["start", &id]);
    let pid = b.state_of(&id)["pid"].as_i64().unwrap();
    b.ok(&["delete", "-f", &id]);
    common::wait_until(10, "init gone", || !alive(pid));
    assert_eq!(b.ids(), Vec::<String>::new());
    assert_eq!(cgroup_left(&id), None);
}

#[test]
fn bad_ids_and_bundles_are_one_line_and_leave_nothing() {
    let Some(b) = Bundle::new(&["sleep", "300"]) else {
        return;
    };
    let bundle = b.path().to_str().unwrap().to_string();
    for bad in ["../x", "a/b", ""] {
        let out = b.rt(&["create", "--bundle", &bundle, bad]);
        assert_eq!(out.status.code(), Some(1), "id {bad:?}");
        assert_eq!(
            common::stderr(&out).lines().count(),
            1,
            "{}",
            common::stderr(&out)
        );
    }
    for verb in ["start", "state", "kill", "delete", "exec"] {
        let mut args = vec![verb, "no-such-ctr"];
        if verb == "exec" {
            args.push("true");
        }
        let out = b.rt(&args);
        assert_eq!(out.status.code(), Some(1), "{verb}");
        let err = common::stderr(&out);
        assert!(err.contains("does not exist"), "{verb}: {err}");
        assert_eq!(err.lines().count(), 1, "{verb}: {err}");
    }
    let out = b.rt(&["create", "--bundle", "/no/such/bundle", "x1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        b.ids(),
        Vec::<String>::new(),
        "nothing recorded for a failed create"
    );
    // A duplicate id is refused and the first container is untouched.
    let id = unique("dup");
    assert!(b.create(&id).status.success());
    let out = b.create(&id);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("already exists"));
    assert_eq!(b.status(&id), "created");
    b.ok(&["delete", "--force", &id]);
    // A command that cannot be found fails create (as runc), and leaves nothing.
    b.edit(|c| c["process"]["args"] = serde_json::json!(["/no/such/binary"]));
    let out = b.create(&id);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("no such file"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(b.ids(), Vec::<String>::new());
    assert_eq!(cgroup_left(&id), None);
}

#[test]
fn hooks_get_the_state_on_stdin() {
    let Some(b) = Bundle::new(&["true"]) else {
        return;
    };
    let id = unique("hooks");
    let out_dir = b.path().join("hooks-out");
    std::fs::create_dir(&out_dir).unwrap();
    let hook = |name: &str| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}/{name}", out_dir.display())],
            "timeout": 10
        })
    };
    b.edit(|c| {
        c["hooks"] = serde_json::json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        })
    });
    let bundle = b.path().to_str().unwrap().to_string();
    let out = b.rt(&["run", "--bundle", &bundle, &id]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    for name in ["prestart", "createRuntime", "poststart", "poststop"] {
        let text = std::fs::read_to_string(out_dir.join(name))
            .unwrap_or_else(|e| panic!("{name} did not run: {e}"));
        let st: serde_json::Value = serde_json::from_str(&text).expect("state json on stdin");
        assert_eq!(st["id"], id.as_str(), "{name}: {st}");
        assert_eq!(st["bundle"], bundle.as_str(), "{name}");
        assert!(st["ociVersion"].is_string(), "{name}");
    }
    // A failing prestart hook fails create and leaves nothing.
    b.edit(|c| {
        c["hooks"] = serde_json::json!({
            "prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 9"]}]
        })
    });
    let out = b.create(&id);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(b.ids(), Vec::<String>::new());
    assert_eq!(cgroup_left(&id), None);
}

/// Receive the pty master that `--console-socket` gets (one fd by SCM_RIGHTS).
fn recv_master(listener: &std::os::unix::net::UnixListener) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (stream, _) = listener.accept().expect("console socket connect");
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the fd was just received and is ours alone.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd on the console socket");
}

/// Read from a pty master until `want` shows up (or the deadline).
fn read_until(master: &OwnedFd, want: &str) -> String {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut got = String::new();
    while !got.contains(want) {
        assert!(std::time::Instant::now() < deadline, "pty: {got:?}");
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(200u16)).unwrap_or(0) == 0 {
            continue;
        }
        let mut buf = [0u8; 1024];
        match nix::unistd::read(master, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    got
}

#[test]
fn console_socket_gets_the_pty_master() {
    let Some(b) = Bundle::new(&["sh"]) else {
        return;
    };
    b.edit(|c| c["process"]["terminal"] = true.into());
    let id = unique("tty");
    let sock = b.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || recv_master(&listener));
    let bundle = b.path().to_str().unwrap().to_string();
    b.ok(&[
        "create",
        "--bundle",
        &bundle,
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
    ]);
    let master = receiver.join().expect("receiver");
    b.ok(&["start", &id]);
    nix::unistd::write(&master, b"tty; echo mark-$((6*7))\n").unwrap();
    let got = read_until(&master, "mark-42");
    assert!(got.contains("/dev/pts/"), "a real tty: {got:?}");
    // exec with --tty: its own pty master on the socket.
    let sock2 = b.path().join("console2.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock2).unwrap();
    let receiver = std::thread::spawn(move || recv_master(&listener));
    b.ok(&[
        "exec",
        "--detach",
        "--tty",
        "--console-socket",
        sock2.to_str().unwrap(),
        &id,
        "sh",
    ]);
    let m2 = receiver.join().expect("receiver");
    nix::unistd::write(&m2, b"echo exec-$((5*5)); exit\n").unwrap();
    assert!(read_until(&m2, "exec-25").contains("exec-25"));
    // No console socket while terminal is true: refused before anything is made.
    let out = b.create("tty-nosock");
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("console socket"));
    nix::unistd::write(&master, b"exit\n").unwrap();
    common::wait_until(10, "shell exits", || b.status(&id) == "stopped");
    b.ok(&["delete", &id]);
    assert_eq!(b.ids(), Vec::<String>::new());
}

#[test]
fn second_personality_and_json_log() {
    let Some(b) = Bundle::new(&["sleep", "300"]) else {
        return;
    };
    let id = unique("persona");
    assert!(b.create(&id).status.success());
    // `nsbox runtime …` is the same command line.
    let out = std::process::Command::new(common::NSBOX)
        .args(["runtime", "--root"])
        .arg(b.state.path())
        .args(["state", &id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(st["status"], "created");
    let list: serde_json::Value =
        serde_json::from_str(&b.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(list[0]["id"], id.as_str(), "{list}");
    // --log FILE --log-format json: failures are a JSON line there, as the shims read them.
    let log = b.path().join("log.json");
    let out = b.rt(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "start",
        "not-there",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).expect("log written");
    let line: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap()).expect("json log line");
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("does not exist"));
    b.ok(&["delete", "--force", &id]);
    assert!(runtime_bin().exists());
}
