//! Hostile images and containers (issue 11): symlinks in an image pointing out of its root,
//! user databases that are fifos or huge, a container swapping symlinks while it is
//! committed or exported, specs asking for namespaces by path or for hooks. Every test
//! asserts that the host is untouched, whatever nsbox answers.

mod common;

use common::{stderr, stdout, Env};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs its closure when dropped: cleanup that also happens when an assertion fails.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// A directory on the host standing for something an image must never reach; holds one
/// file, `keep`, so that any change to it shows.
struct HostDir {
    dir: tempfile::TempDir,
}

impl HostDir {
    fn new(prefix: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/tmp")
            .unwrap();
        fs::write(dir.path().join("keep"), "host data\n").unwrap();
        HostDir { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn assert_untouched(&self) {
        let names: Vec<String> = fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["keep".to_string()], "host dir written to");
        assert_eq!(
            fs::read_to_string(self.path().join("keep")).unwrap(),
            "host data\n"
        );
    }
}

/// A root filesystem with a static busybox and its applets in /bin.
fn busybox_rootfs(root: &Path) {
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = symlink("busybox", root.join("bin").join(applet));
        }
    }
    for d in ["proc", "sys", "tmp"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
}

/// Import, as `name`, a busybox rootfs that `shape` then makes hostile.
fn hostile_image(env: &Env, name: &str, shape: impl FnOnce(&Path)) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("rootfs");
    busybox_rootfs(&root);
    shape(&root);
    let tar = t.path().join("image.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(st.success());
    env.ok(&["import", tar.to_str().unwrap(), name]);
}

/// Run nsbox and wait at most `limit`; a run that outlives it is killed and fails the test.
fn nsbox_within(env: &Env, args: &[&str], limit: Duration) -> Output {
    let mut child = env
        .cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "nsbox {args:?} still running after {limit:?}: {}",
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A refused run: Docker's 125 and one line prefixed `nsbox: `.
fn assert_one_line_failure(out: &Output) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("nsbox: "), "{err}");
}

/// Either the run worked, or it failed cleanly; nothing of it is left mounted.
fn run_either_way(env: &Env, args: &[&str]) -> Output {
    let out = nsbox_within(env, args, Duration::from_secs(60));
    if !out.status.success() {
        assert_one_line_failure(&out);
    }
    assert!(env.mounts().is_empty(), "{:?}", env.mounts());
    if args.contains(&"--rm") {
        let left = fs::read_dir(env.root().join("containers"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(left, 0, "run --rm left a container behind");
    }
    out
}

#[test]
fn dev_symlink_to_an_absolute_host_dir_stays_inside() {
    let env = Env::new();
    let host = HostDir::new("hostdir-");
    let target = host.path().to_path_buf();
    hostile_image(&env, "hostile-dev:abs", |r| {
        symlink(&target, r.join("dev")).unwrap();
    });
    // Its target is made inside the image, as runc does for a dangling mount point.
    let out = run_either_way(&env, &["run", "--rm", "hostile-dev:abs", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    host.assert_untouched();
    // With the target present inside the image too, the run works, all inside.
    let inside_target = target.clone();
    hostile_image(&env, "hostile-dev:abs2", move |r| {
        fs::create_dir_all(r.join(inside_target.strip_prefix("/").unwrap())).unwrap();
        symlink(&inside_target, r.join("dev")).unwrap();
    });
    let out = run_either_way(
        &env,
        &["run", "--rm", "hostile-dev:abs2", "sh", "-c", "ls /dev/"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("null"), "{}", stdout(&out));
    host.assert_untouched();
}

#[test]
fn dev_symlink_up_and_out_stays_inside() {
    let env = Env::new();
    let host = HostDir::new("hostdir-");
    let up = format!(
        "{}{}",
        "../".repeat(24),
        host.path().strip_prefix("/").unwrap().display()
    );
    hostile_image(&env, "hostile-dev:rel", |r| {
        symlink(&up, r.join("dev")).unwrap();
    });
    let out = run_either_way(&env, &["run", "--rm", "hostile-dev:rel", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    host.assert_untouched();
}

#[test]
fn etc_symlink_to_host_etc_touches_nothing() {
    let env = Env::new();
    let files = [
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/passwd",
    ];
    let before: Vec<_> = files
        .iter()
        .map(|f| {
            fs::symlink_metadata(f)
                .ok()
                .map(|m| (m.ino(), m.mtime(), m.mtime_nsec(), m.len()))
        })
        .collect();
    hostile_image(&env, "hostile-etc:1", |r| {
        symlink("/etc", r.join("etc")).unwrap();
    });
    run_either_way(&env, &["run", "--rm", "hostile-etc:1", "true"]);
    run_either_way(
        &env,
        &["run", "--rm", "-u", "root", "hostile-etc:1", "true"],
    );
    let after: Vec<_> = files
        .iter()
        .map(|f| {
            fs::symlink_metadata(f)
                .ok()
                .map(|m| (m.ino(), m.mtime(), m.mtime_nsec(), m.len()))
        })
        .collect();
    assert_eq!(before, after, "host /etc changed");
}

#[test]
fn mount_points_under_a_symlink_out_stay_inside() {
    let env = Env::new();
    let host = HostDir::new("hostdir-");
    let target = host.path().to_path_buf();
    hostile_image(&env, "hostile-vol:1", |r| {
        symlink(&target, r.join("data")).unwrap();
        symlink(&target, r.join("work")).unwrap();
    });
    for args in [
        vec![
            "run",
            "--rm",
            "-v",
            "hvol:/data/sub",
            "hostile-vol:1",
            "true",
        ],
        vec!["run", "--rm", "-v", "/data/anon", "hostile-vol:1", "true"],
        vec!["run", "--rm", "--tmpfs", "/data/t", "hostile-vol:1", "true"],
        vec!["run", "--rm", "-w", "/work/new", "hostile-vol:1", "true"],
    ] {
        run_either_way(&env, &args);
        host.assert_untouched();
    }
    let _ = env.nsbox(&["volume", "rm", "hvol"]);
}

#[test]
fn directories_nsbox_makes_are_not_world_writable() {
    let env = Env::with_busybox();
    let out = env.ok(&[
        "run",
        "--rm",
        "-w",
        "/newwork/deep",
        "-v",
        "/mnt/a/b",
        "busybox",
        "stat",
        "-c",
        "%a %n",
        "/newwork",
        "/newwork/deep",
        "/mnt/a",
    ]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec!["755 /newwork", "755 /newwork/deep", "755 /mnt/a"],
        "{out}"
    );
}

#[test]
fn passwd_fifo_fails_fast_in_one_line() {
    let env = Env::new();
    hostile_image(&env, "hostile-passwd:fifo", |r| {
        fs::create_dir_all(r.join("etc")).unwrap();
        nix_mkfifo(&r.join("etc/passwd"));
    });
    let out = nsbox_within(
        &env,
        &["run", "--rm", "-u", "nobody", "hostile-passwd:fifo", "true"],
        Duration::from_secs(30),
    );
    assert_one_line_failure(&out);
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

fn nix_mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

#[test]
fn huge_passwd_is_refused_not_read() {
    let env = Env::new();
    hostile_image(&env, "hostile-passwd:huge", |r| {
        fs::create_dir_all(r.join("etc")).unwrap();
        let f = fs::File::create(r.join("etc/passwd")).unwrap();
        f.set_len(100 << 20).unwrap();
    });
    let out = nsbox_within(
        &env,
        &["run", "--rm", "-u", "root", "hostile-passwd:huge", "true"],
        Duration::from_secs(60),
    );
    assert_one_line_failure(&out);
    assert!(stderr(&out).contains("larger than"), "{}", stderr(&out));
}

/// Every byte string `needle` found in a file under `dir` (symlinks not followed).
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return hits;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(md) = fs::symlink_metadata(&p) else {
            continue;
        };
        if md.is_dir() {
            hits.extend(files_containing(&p, needle));
        } else if md.is_file() {
            if let Ok(data) = fs::read(&p) {
                if data.windows(needle.len()).any(|w| w == needle) {
                    hits.push(p);
                }
            }
        }
    }
    hits
}

#[test]
fn symlink_swaps_never_leak_host_files_into_commit_export_or_diff() {
    let env = Env::with_busybox();
    let secret_dir = tempfile::Builder::new()
        .prefix("hostile-secret-")
        .tempdir_in("/tmp")
        .unwrap();
    let marker = format!("TOPSECRET-{}", std::process::id());
    let leak_name = format!("leak-{}", std::process::id());
    let secret = secret_dir.path().join(&leak_name);
    fs::write(&secret, &marker).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    // Many files sort before `zz`, so a reader that looks at `zz` and only later enters it
    // has a wide window; `zz` flips between a directory and a symlink to the host's secret
    // directory (absolute, so it dangles inside the container and means the host outside).
    let script = format!(
        "mkdir -p /w; cd /w; i=0; while [ $i -lt 1500 ]; do echo x > a$i; i=$((i+1)); done; \
         touch /started; \
         while :; do rm -rf zz; mkdir zz; echo safe > zz/f; rm -rf zz; ln -s {s} zz; done",
        s = secret_dir.path().display()
    );
    env.ok(&[
        "run", "-d", "--name", "swapper", "busybox", "sh", "-c", &script,
    ]);
    let _rm = OnDrop(|| {
        let _ = env.nsbox(&["rm", "-f", "swapper"]);
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !env
        .nsbox(&["exec", "swapper", "test", "-e", "/started"])
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "the swapper never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut rounds = 0;
    let mut outcomes = Vec::new();
    while Instant::now() < deadline {
        rounds += 1;
        let out = env.nsbox(&["export", "swapper"]);
        assert!(
            !out.stdout
                .windows(marker.len())
                .any(|w| w == marker.as_bytes()),
            "export leaked the host file (round {rounds})"
        );
        assert!(
            !out.stdout
                .windows(leak_name.len())
                .any(|w| w == leak_name.as_bytes()),
            "export listed the host directory (round {rounds})"
        );
        outcomes.push(out.status.success());
        let out = env.nsbox(&["diff", "swapper"]);
        assert!(!stdout(&out).contains(&leak_name), "{}", stdout(&out));
        let pause = if rounds % 2 == 0 {
            "--pause=true"
        } else {
            "--pause=false"
        };
        let tag = format!("leak:{rounds}");
        let out = env.nsbox(&["commit", pause, "--no-compress", "swapper", &tag]);
        outcomes.push(out.status.success());
    }
    env.ok(&["rm", "-f", "swapper"]);
    let hits = files_containing(env.root(), marker.as_bytes());
    assert!(
        hits.is_empty(),
        "host file content in the data root: {hits:?}"
    );
    assert!(
        outcomes.iter().any(|ok| *ok),
        "no export or commit ever succeeded in {rounds} rounds"
    );
}

#[test]
fn commit_pauses_a_running_container_and_thaws_it() {
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "busybox",
        "sh",
        "-c",
        "while :; do echo x >> /count; usleep 20000; done",
    ]);
    let _rm = OnDrop(|| {
        let _ = env.nsbox(&["rm", "-f", "busy"]);
    });
    env.ok(&["commit", "busy", "paused:1"]);
    env.ok(&["commit", "-p", "busy", "paused:2"]);
    env.ok(&["commit", "--pause=false", "busy", "paused:3"]);
    // Still running and writing after the commits: it was thawed.
    let n = |env: &Env| {
        env.ok(&["exec", "busy", "wc", "-l", "/count"])
            .split_whitespace()
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let first = n(&env);
    let deadline = Instant::now() + Duration::from_secs(10);
    while n(&env) <= first {
        assert!(Instant::now() < deadline, "container stayed frozen");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A container paused by someone else stays paused after a commit.
    let id = env
        .ok(&["inspect", "-f", "{{.Id}}", "busy"])
        .trim()
        .to_string();
    let (file, frozen, thawed) = freezer_of(&id).expect("the container's freezer");
    fs::write(&file, frozen).unwrap();
    env.ok(&["commit", "busy", "paused:4"]);
    let state = fs::read_to_string(&file).unwrap();
    fs::write(&file, thawed).unwrap();
    assert_eq!(
        state.trim(),
        frozen,
        "commit thawed a container it had not frozen"
    );
    env.ok(&["rm", "-f", "busy"]);
}

/// The freezer file of container `id` (v1 freezer.state or v2 cgroup.freeze) and the
/// values that freeze and thaw it.
fn freezer_of(id: &str) -> Option<(PathBuf, &'static str, &'static str)> {
    fn find(dir: &Path, name: &str, depth: u32) -> Option<PathBuf> {
        for e in fs::read_dir(dir).ok()?.flatten() {
            let p = e.path();
            if !e.file_type().ok()?.is_dir() {
                continue;
            }
            if e.file_name().to_string_lossy() == name {
                for f in ["freezer.state", "cgroup.freeze"] {
                    if p.join(f).exists() {
                        return Some(p.join(f));
                    }
                }
            }
            if depth > 0 {
                if let Some(f) = find(&p, name, depth - 1) {
                    return Some(f);
                }
            }
        }
        None
    }
    let name = format!("nsbox-{id}");
    let f = find(Path::new("/sys/fs/cgroup/freezer"), &name, 4)
        .or_else(|| find(Path::new("/sys/fs/cgroup"), &name, 4))?;
    if f.ends_with("freezer.state") {
        Some((f, "FROZEN", "THAWED"))
    } else {
        Some((f, "1", "0"))
    }
}

/// A bundle with a busybox rootfs and a hand-written config running `args`.
fn bundle(dir: &Path, args: &[&str], extra: impl FnOnce(&mut serde_json::Value)) {
    busybox_rootfs(&dir.join("rootfs"));
    fs::create_dir_all(dir.join("rootfs/dev")).unwrap();
    let mut cfg = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin"],
            "cwd": "/"
        },
        "root": {"path": "rootfs"},
        "hostname": "b",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}]
        }
    });
    extra(&mut cfg);
    fs::write(dir.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
}

fn ns_of(pid: &str, kind: &str) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()
}

fn ppid_of(pid: &str) -> Option<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .map(|s| s.trim().to_string())
}

#[test]
fn namespace_paths_are_joined_by_the_container_not_the_monitor() {
    let env = Env::new();
    let holder = Command::new("unshare")
        .args(["--net", "sleep", "60"])
        .spawn()
        .expect("unshare");
    let hpid = holder.id().to_string();
    let mut holder = Some(holder);
    let _kill = OnDrop(move || {
        if let Some(mut h) = holder.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
    });
    // Wait for the holder to be in its own network namespace.
    let own = ns_of("self", "net").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ns_of(&hpid, "net").is_none_or(|n| n == own) {
        assert!(Instant::now() < deadline, "unshare --net never took effect");
        std::thread::sleep(Duration::from_millis(20));
    }
    let target = ns_of(&hpid, "net").unwrap();
    let b = env.root().join("nsbundle");
    let path = format!("/proc/{hpid}/ns/net");
    bundle(
        &b,
        &["sh", "-c", "readlink /proc/self/ns/net; sleep 3"],
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "network", "path": path}));
        },
    );
    let run = env
        .cmd()
        .args(["run", "--bundle", b.to_str().unwrap(), "--name", "nsj"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Find the container's init: in the holder's netns and in a pid namespace of its own;
    // its parent (in our pid namespace) is what launched it.
    let own_pidns = ns_of("self", "pid").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut checked = false;
    while Instant::now() < deadline && !checked {
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let pid = e.file_name().to_string_lossy().into_owned();
            if !pid.chars().all(|c| c.is_ascii_digit()) || pid == hpid {
                continue;
            }
            if ns_of(&pid, "net").as_ref() != Some(&target)
                || ns_of(&pid, "pid").is_none_or(|p| p == own_pidns)
            {
                continue;
            }
            let Some(parent) = ppid_of(&pid) else {
                continue;
            };
            if ns_of(&parent, "pid").as_ref() != Some(&own_pidns) {
                continue; // a child of the container's own
            }
            assert_eq!(
                ns_of(&parent, "net"),
                Some(own.clone()),
                "the container's parent (pid {parent}) joined the namespace itself"
            );
            checked = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        target.to_string_lossy(),
        "{}",
        stderr(&out)
    );
    assert!(checked, "never saw the container's init");
}

#[test]
fn spec_fields_nsbox_cannot_enforce_are_errors() {
    let env = Env::new();
    let b = env.root().join("hookbundle");
    bundle(&b, &["true"], |c| {
        c["hooks"] = serde_json::json!({"prestart": [{"path": "/bin/true"}]});
    });
    let out = nsbox_within(
        &env,
        &["run", "--bundle", b.to_str().unwrap(), "--name", "hooks"],
        Duration::from_secs(30),
    );
    assert_one_line_failure(&out);
    assert!(stderr(&out).contains("hooks"), "{}", stderr(&out));
    let b = env.root().join("aabundle");
    bundle(&b, &["true"], |c| {
        c["process"]["apparmorProfile"] = "docker-default".into();
    });
    let out = nsbox_within(
        &env,
        &["run", "--bundle", b.to_str().unwrap(), "--name", "aa"],
        Duration::from_secs(30),
    );
    assert_one_line_failure(&out);
    assert!(stderr(&out).contains("apparmorProfile"), "{}", stderr(&out));
}

#[test]
fn a_pid_namespace_path_is_joined_through_a_helper() {
    let env = Env::new();
    let holder = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "sleep", "60"])
        .spawn()
        .expect("unshare");
    let hpid = holder.id().to_string();
    let mut holder = Some(holder);
    let _kill = OnDrop(move || {
        if let Some(mut h) = holder.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
    });
    let own = ns_of("self", "pid").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ns_of(&hpid, "pid_for_children").is_none_or(|n| n == own) {
        assert!(Instant::now() < deadline, "unshare --pid never took effect");
        std::thread::sleep(Duration::from_millis(20));
    }
    let target = ns_of(&hpid, "pid_for_children").unwrap();
    let b = env.root().join("pidbundle");
    let path = format!("/proc/{hpid}/ns/pid_for_children");
    bundle(&b, &["sh", "-c", "readlink /proc/self/ns/pid"], |c| {
        c["linux"]["namespaces"] = serde_json::json!([
            {"type": "pid", "path": path}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}
        ]);
    });
    let out = nsbox_within(
        &env,
        &["run", "--bundle", b.to_str().unwrap(), "--name", "pidj"],
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), target.to_string_lossy());
    assert_eq!(ns_of("self", "pid").unwrap(), own);
}

#[test]
fn a_dangling_etc_symlink_gets_its_target_made_inside() {
    let env = Env::new();
    hostile_image(&env, "dangling-resolv:1", |r| {
        fs::create_dir_all(r.join("etc")).unwrap();
        symlink(
            "../run/systemd/resolve/stub-resolv.conf",
            r.join("etc/resolv.conf"),
        )
        .unwrap();
    });
    let out = run_either_way(
        &env,
        &[
            "run",
            "--rm",
            "dangling-resolv:1",
            "cat",
            "/etc/resolv.conf",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("nameserver"), "{}", stdout(&out));
}
