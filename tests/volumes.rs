//! Volumes, bind mounts and tmpfs mounts against the real kernel: `run -v/--mount/--tmpfs/
//! --volumes-from`, `rm -v`, copy-up, mount propagation, `inspect` Mounts, and the `volume`
//! verbs. Docker's semantics throughout; bad input is exit 125 with nothing created.

mod common;

use common::{stderr, stdout, Env};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `nsbox run --rm ARGS`, asserting success; returns stdout.
fn run_rm(env: &Env, args: &[&str]) -> String {
    let mut full = vec!["run", "--rm"];
    full.extend_from_slice(args);
    env.ok(&full)
}

/// `nsbox run --rm ARGS`, returning the whole output (for expected failures).
fn run_rm_out(env: &Env, args: &[&str]) -> Output {
    let mut full = vec!["run", "--rm"];
    full.extend_from_slice(args);
    env.nsbox(&full)
}

fn containers_in(env: &Env) -> usize {
    std::fs::read_dir(env.root().join("containers"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Names of the directories under <root>/volumes, sorted.
fn volume_dirs(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(env.root().join("volumes"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn data_dir(env: &Env, name: &str) -> PathBuf {
    env.root().join("volumes").join(name).join("_data")
}

/// `nsbox volume ls -q [EXTRA]`, sorted.
fn vol_ls_q(env: &Env, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["volume", "ls", "-q"];
    args.extend_from_slice(extra);
    let mut v: Vec<String> = env
        .ok(&args)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn assert_after_rm_nothing_left(env: &Env) {
    assert_eq!(
        containers_in(env),
        0,
        "--rm leaves nothing under <root>/containers"
    );
    assert_eq!(
        env.ok(&["ps", "-aq"]),
        "",
        "--rm leaves no container in ps -a"
    );
    assert!(env.mounts().is_empty(), "mounts left: {:?}", env.mounts());
}

/// The `.Mounts` of a container from `inspect -f '{{json .Mounts}}'`.
fn mounts_json(env: &Env, ctr: &str) -> Vec<serde_json::Value> {
    let out = env.ok(&["inspect", "-f", "{{json .Mounts}}", ctr]);
    let v: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("inspect .Mounts is not JSON ({e}): {out}"));
    v.as_array()
        .unwrap_or_else(|| panic!("inspect .Mounts is not an array: {out}"))
        .clone()
}

fn mount_at<'a>(mounts: &'a [serde_json::Value], dst: &str) -> &'a serde_json::Value {
    mounts
        .iter()
        .find(|m| m["Destination"] == dst)
        .unwrap_or_else(|| panic!("no mount with Destination {dst}: {mounts:?}"))
}

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

/// A line of a container's /proc/self/mountinfo whose mount point is `mp`.
fn mountinfo_line<'a>(out: &'a str, mp: &str) -> &'a str {
    out.lines()
        .find(|l| l.split(' ').nth(4) == Some(mp))
        .unwrap_or_else(|| panic!("{mp} not mounted: {out}"))
}

/// A container started in the background; on drop it is force-removed (and its nsbox
/// process reaped), so a failing test leaves nothing running.
struct Bg<'a> {
    env: &'a Env,
    name: String,
    child: Option<Child>,
}

impl<'a> Bg<'a> {
    fn spawn(env: &'a Env, name: &str, args: &[&str], piped: bool) -> Self {
        let mut c = env.cmd();
        c.args(args);
        if piped {
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let child = c.spawn().expect("spawn nsbox");
        Bg {
            env,
            name: name.to_string(),
            child: Some(child),
        }
    }

    /// Wait until `ps -q` lists the container as running.
    fn wait_running(&self) {
        let ok = wait_for(20, || {
            !stdout(&self.env.nsbox(&["ps", "-q"])).trim().is_empty()
        });
        assert!(ok, "container {} never ran", self.name);
    }

    fn wait_output(&mut self) -> Output {
        common::output_within(self.child.take().expect("child already taken"), 60)
    }
}

impl Drop for Bg<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = self.env.nsbox(&["rm", "-f", &self.name]);
                let exited = wait_for(10, || matches!(child.try_wait(), Ok(Some(_))));
                if !exited {
                    let _ = child.kill();
                }
            }
            let _ = child.wait();
        }
        // Whether or not it still ran, do not leave the container behind.
        let _ = self.env.nsbox(&["rm", "-f", "-v", &self.name]);
    }
}

/// A mount the test made on the host; lazily unmounted on drop, even if the test failed.
struct HostMount(PathBuf);

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
    }
}

fn sh_host(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "host command failed: {cmd}");
}

fn assert_read_only_failure(out: &Output, what: &str) {
    assert_ne!(out.status.code(), Some(0), "{what}: the write must fail");
    let all = format!("{}{}", stdout(out), stderr(out));
    assert!(
        all.contains("Read-only file system"),
        "{what}: expected 'Read-only file system', got: {all}"
    );
}

// ---------------------------------------------------------------------------------------------
// Named and anonymous volumes
// ---------------------------------------------------------------------------------------------

#[test]
fn named_volume_persists_across_containers() {
    let env = Env::with_busybox();
    run_rm(
        &env,
        &[
            "-v",
            "data:/data",
            "busybox",
            "sh",
            "-c",
            "echo hello > /data/f",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(data_dir(&env, "data").join("f")).unwrap(),
        "hello\n",
        "named volume data lives at <root>/volumes/NAME/_data"
    );
    let out = run_rm(
        &env,
        &["--volume", "data:/data", "busybox", "cat", "/data/f"],
    );
    assert_eq!(out, "hello\n");
    assert_eq!(vol_ls_q(&env, &[]), vec!["data"]);
    assert_after_rm_nothing_left(&env);
}

#[test]
fn anonymous_volume_has_hex_name_and_is_removed_by_rm_flag() {
    let env = Env::with_busybox();
    // The container waits for a file the test drops into its volume, then exits normally.
    let mut bg = Bg::spawn(
        &env,
        "anon",
        &[
            "run",
            "--rm",
            "--name",
            "anon",
            "-v",
            "/data",
            "busybox",
            "sh",
            "-c",
            "i=0; while [ ! -e /data/go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; cat /data/go",
        ],
        true,
    );
    let mut names = Vec::new();
    let found = wait_for(20, || {
        names = vol_ls_q(&env, &[]);
        !names.is_empty()
    });
    assert!(
        found,
        "the anonymous volume appears in volume ls while running"
    );
    assert_eq!(names.len(), 1, "{names:?}");
    let name = names[0].clone();
    assert!(is_hex64(&name), "anonymous volume name is 64 hex: {name}");
    let data = data_dir(&env, &name);
    assert!(data.is_dir(), "{data:?}");
    std::fs::write(data.join("go"), "went\n").unwrap();
    let out = bg.wait_output();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "went\n");
    assert!(
        vol_ls_q(&env, &[]).is_empty(),
        "--rm removed the anonymous volume"
    );
    assert!(
        !env.root().join("volumes").join(&name).exists(),
        "volume dir gone"
    );
    assert_after_rm_nothing_left(&env);
}

#[test]
fn anonymous_volume_stays_without_rm_flag_and_rm_v_removes_it() {
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "a",
        "-v",
        "/data",
        "busybox",
        "sh",
        "-c",
        "echo a > /data/f",
    ]);
    let after_a = vol_ls_q(&env, &[]);
    assert_eq!(after_a.len(), 1, "{after_a:?}");
    let va = after_a[0].clone();
    assert!(is_hex64(&va), "{va}");
    assert_eq!(
        std::fs::read_to_string(data_dir(&env, &va).join("f")).unwrap(),
        "a\n"
    );
    env.ok(&[
        "run",
        "--name",
        "b",
        "-v",
        "/data",
        "busybox",
        "sh",
        "-c",
        "echo b > /data/f",
    ]);
    let all = vol_ls_q(&env, &[]);
    assert_eq!(all.len(), 2, "{all:?}");
    let vb = all.iter().find(|n| **n != va).unwrap().clone();

    // rm without -v: the anonymous volume stays, now dangling.
    env.ok(&["rm", "a"]);
    assert!(vol_ls_q(&env, &[]).contains(&va), "rm without -v keeps it");
    assert!(data_dir(&env, &va).join("f").exists());
    assert_eq!(
        vol_ls_q(&env, &["--filter", "dangling=true"]),
        vec![va.clone()],
        "only a's volume is dangling while b still exists"
    );

    // rm -v: b's anonymous volume goes with it.
    env.ok(&["rm", "-v", "b"]);
    let left = vol_ls_q(&env, &[]);
    assert_eq!(left, vec![va.clone()], "rm -v removed {vb}");
    assert!(!env.root().join("volumes").join(&vb).exists());
    assert_eq!(containers_in(&env), 0);
}

#[test]
fn named_volume_is_never_removed_by_rm_flag_or_rm_v() {
    let env = Env::with_busybox();
    run_rm(
        &env,
        &[
            "-v",
            "keep:/data",
            "busybox",
            "sh",
            "-c",
            "echo k > /data/k",
        ],
    );
    assert_eq!(
        vol_ls_q(&env, &[]),
        vec!["keep"],
        "--rm keeps named volumes"
    );
    env.ok(&["run", "--name", "c", "-v", "keep2:/data", "busybox", "true"]);
    env.ok(&["rm", "-v", "c"]);
    assert_eq!(
        vol_ls_q(&env, &[]),
        vec!["keep", "keep2"],
        "rm -v keeps named volumes"
    );
    assert_eq!(
        std::fs::read_to_string(data_dir(&env, "keep").join("k")).unwrap(),
        "k\n"
    );
    assert_after_rm_nothing_left(&env);
}

// ---------------------------------------------------------------------------------------------
// Bind mounts
// ---------------------------------------------------------------------------------------------

#[test]
fn bind_mount_rw_writes_are_visible_on_the_host() {
    let env = Env::with_busybox();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("pre"), "from host\n").unwrap();
    let spec = format!("{}:/data", s(host.path()));
    let out = run_rm(
        &env,
        &[
            "-v",
            &spec,
            "busybox",
            "sh",
            "-c",
            "cat /data/pre; echo from ctr > /data/f",
        ],
    );
    assert_eq!(out, "from host\n");
    assert_eq!(
        std::fs::read_to_string(host.path().join("f")).unwrap(),
        "from ctr\n"
    );
    assert!(volume_dirs(&env).is_empty(), "a bind creates no volume");
    assert_after_rm_nothing_left(&env);
}

#[test]
fn bind_mount_ro_refuses_writes() {
    let env = Env::with_busybox();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("pre"), "from host\n").unwrap();
    let spec = format!("{}:/data:ro", s(host.path()));
    let out = run_rm_out(
        &env,
        &[
            "-v",
            &spec,
            "busybox",
            "sh",
            "-c",
            "cat /data/pre; echo x > /data/f",
        ],
    );
    assert_eq!(stdout(&out), "from host\n", "reads work: {}", stderr(&out));
    assert_read_only_failure(&out, "-v HOST:/data:ro");
    assert!(!host.path().join("f").exists());
    assert_after_rm_nothing_left(&env);
}

#[test]
fn missing_host_dir_for_v_bind_is_created() {
    let env = Env::with_busybox();
    let host = tempfile::tempdir().unwrap();
    let missing = host.path().join("a/b");
    let spec = format!("{}:/data", s(&missing));
    run_rm(
        &env,
        &["-v", &spec, "busybox", "sh", "-c", "echo x > /data/f"],
    );
    assert!(missing.is_dir(), "-v creates a missing host dir (Docker)");
    assert_eq!(std::fs::read_to_string(missing.join("f")).unwrap(), "x\n");
    assert_after_rm_nothing_left(&env);
}

#[test]
fn single_file_bind_mount() {
    let env = Env::with_busybox();
    let host = tempfile::tempdir().unwrap();
    let file = host.path().join("conf.txt");
    std::fs::write(&file, "line1\n").unwrap();
    let spec = format!("{}:/etc/myconf", s(&file));
    let out = run_rm(
        &env,
        &[
            "-v",
            &spec,
            "busybox",
            "sh",
            "-c",
            "test -f /etc/myconf && echo isfile; echo line2 >> /etc/myconf; cat /etc/myconf",
        ],
    );
    assert_eq!(out, "isfile\nline1\nline2\n");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "line1\nline2\n");
    // Read-only single file.
    let spec_ro = format!("{}:/etc/myconf:ro", s(&file));
    let out = run_rm_out(
        &env,
        &[
            "-v",
            &spec_ro,
            "busybox",
            "sh",
            "-c",
            "echo line3 >> /etc/myconf",
        ],
    );
    assert_read_only_failure(&out, "single file :ro");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "line1\nline2\n");
    assert_after_rm_nothing_left(&env);
}

#[test]
fn relative_bind_source_is_resolved_against_the_cwd() {
    let env = Env::with_busybox();
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("sub")).unwrap();
    std::fs::write(cwd.path().join("sub/f"), "rel\n").unwrap();
    let out = env
        .cmd()
        .current_dir(cwd.path())
        .args([
            "run",
            "--rm",
            "-v",
            "./sub:/data",
            "busybox",
            "sh",
            "-c",
            "cat /data/f; echo back > /data/g",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "rel\n");
    assert_eq!(
        std::fs::read_to_string(cwd.path().join("sub/g")).unwrap(),
        "back\n"
    );
    assert!(
        volume_dirs(&env).is_empty(),
        "./sub is a bind, not a volume"
    );
    assert_after_rm_nothing_left(&env);
}

// ---------------------------------------------------------------------------------------------
// --mount
// ---------------------------------------------------------------------------------------------

#[test]
fn mount_flag_bind_readonly() {
    let env = Env::with_busybox();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("pre"), "p\n").unwrap();
    for ro in ["readonly", "ro", "readonly=true", "ro=true"] {
        let spec = format!("type=bind,source={},target=/data,{ro}", s(host.path()));
        let out = run_rm_out(
            &env,
            &[
                "--mount",
                &spec,
                "busybox",
                "sh",
                "-c",
                "cat /data/pre; echo x > /data/f",
            ],
        );
        assert_eq!(stdout(&out), "p\n", "{ro}: {}", stderr(&out));
        assert_read_only_failure(&out, &format!("--mount ...,{ro}"));
        assert!(!host.path().join("f").exists(), "{ro}");
    }
    // readonly=false and the src=/dst= spellings give a writable bind.
    let spec = format!("type=bind,src={},dst=/data,readonly=false", s(host.path()));
    run_rm(
        &env,
        &["--mount", &spec, "busybox", "sh", "-c", "echo w > /data/f"],
    );
    assert_eq!(
        std::fs::read_to_string(host.path().join("f")).unwrap(),
        "w\n"
    );
    assert_after_rm_nothing_left(&env);
}

#[test]
fn mount_flag_bind_missing_source_is_an_error() {
    let env = Env::with_busybox();
    let host = tempfile::tempdir().unwrap();
    let missing = host.path().join("nope");
    let spec = format!("type=bind,source={},target=/data", s(&missing));
    let out = env.nsbox(&["run", "--mount", &spec, "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("bind source path does not exist"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("nsbox: "), "{err}");
    assert!(!missing.exists(), "--mount never creates the bind source");
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert!(volume_dirs(&env).is_empty());
    assert_eq!(containers_in(&env), 0);
}

#[test]
fn mount_flag_type_volume_named_and_anonymous() {
    let env = Env::with_busybox();
    // type defaults to volume.
    env.ok(&[
        "run",
        "--name",
        "c",
        "--mount",
        "source=vol1,target=/data",
        "--mount",
        "type=volume,destination=/anon",
        "busybox",
        "sh",
        "-c",
        "echo one > /data/f; echo two > /anon/f",
    ]);
    let names = vol_ls_q(&env, &[]);
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"vol1".to_string()), "{names:?}");
    let anon = names.iter().find(|n| *n != "vol1").unwrap().clone();
    assert!(is_hex64(&anon), "{anon}");
    assert_eq!(
        std::fs::read_to_string(data_dir(&env, "vol1").join("f")).unwrap(),
        "one\n"
    );
    assert_eq!(
        std::fs::read_to_string(data_dir(&env, &anon).join("f")).unwrap(),
        "two\n"
    );
    let mounts = mounts_json(&env, "c");
    assert_eq!(mount_at(&mounts, "/data")["Type"], "volume");
    assert_eq!(mount_at(&mounts, "/data")["Name"], "vol1");
    assert_eq!(mount_at(&mounts, "/anon")["Type"], "volume");
    assert_eq!(mount_at(&mounts, "/anon")["Name"], anon.as_str());
    // The named one comes back in a new container, spelled with type=volume,src=,dst=.
    let out = run_rm(
        &env,
        &[
            "--mount",
            "type=volume,src=vol1,dst=/x",
            "busybox",
            "cat",
            "/x/f",
        ],
    );
    assert_eq!(out, "one\n");
    env.ok(&["rm", "--volumes", "c"]);
    assert_eq!(
        vol_ls_q(&env, &[]),
        vec!["vol1"],
        "rm --volumes removed only the anonymous one"
    );
    assert_after_rm_nothing_left(&env);
}

#[test]
fn mount_flag_tmpfs_size_and_mode() {
    let env = Env::with_busybox();
    let out = run_rm(
        &env,
        &[
            "--mount",
            "type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1770",
            "--mount",
            "type=tmpfs,dst=/s2,tmpfs-size=2097152",
            "busybox",
            "sh",
            "-c",
            "stat -c %a /scratch; echo ok > /scratch/f && cat /scratch/f; cat /proc/self/mountinfo",
        ],
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1770"), "tmpfs-mode: {out}");
    assert_eq!(lines.next(), Some("ok"), "{out}");
    let scratch = mountinfo_line(&out, "/scratch");
    assert!(scratch.contains(" - tmpfs "), "{scratch}");
    assert!(scratch.contains("size=1024k"), "tmpfs-size=1m: {scratch}");
    let s2 = mountinfo_line(&out, "/s2");
    assert!(s2.contains(" - tmpfs "), "{s2}");
    assert!(s2.contains("size=2048k"), "tmpfs-size in bytes: {s2}");
    assert!(volume_dirs(&env).is_empty(), "tmpfs creates no volume");
    assert_after_rm_nothing_left(&env);
}

// ---------------------------------------------------------------------------------------------
// --tmpfs
// ---------------------------------------------------------------------------------------------

#[test]
fn tmpfs_size_is_enforced() {
    let env = Env::with_busybox();
    let out = run_rm_out(
        &env,
        &[
            "--tmpfs",
            "/t:size=1m",
            "busybox",
            "dd",
            "if=/dev/zero",
            "of=/t/big",
            "bs=1024",
            "count=2048",
        ],
    );
    assert_ne!(out.status.code(), Some(0), "2 MB do not fit in a 1m tmpfs");
    assert!(
        stderr(&out).contains("No space left on device"),
        "{}",
        stderr(&out)
    );
    // Within the limit it works.
    run_rm(
        &env,
        &[
            "--tmpfs",
            "/t:size=1m",
            "busybox",
            "dd",
            "if=/dev/zero",
            "of=/t/small",
            "bs=1024",
            "count=512",
        ],
    );
    assert_after_rm_nothing_left(&env);
}

#[test]
fn tmpfs_mode_option() {
    let env = Env::with_busybox();
    let out = run_rm(
        &env,
        &[
            "--tmpfs",
            "/t:mode=700",
            "--tmpfs",
            "/u:size=1m,mode=1777",
            "busybox",
            "stat",
            "-c",
            "%a",
            "/t",
            "/u",
        ],
    );
    assert_eq!(out, "700\n1777\n");
    assert_after_rm_nothing_left(&env);
}

#[test]
fn tmpfs_is_noexec_by_default_and_exec_lifts_it() {
    let env = Env::with_busybox();
    let script = "printf '#!/bin/sh\\necho ran\\n' > /t/s; chmod +x /t/s; /t/s; echo rc=$?";
    let out = run_rm_out(&env, &["--tmpfs", "/t", "busybox", "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "rc=126\n",
        "noexec by default: {}",
        stderr(&out)
    );
    let info = run_rm(
        &env,
        &["--tmpfs", "/t", "busybox", "cat", "/proc/self/mountinfo"],
    );
    let line = mountinfo_line(&info, "/t");
    let opts = line.split(' ').nth(5).unwrap();
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(opts.split(',').any(|x| x == o), "default {o}: {line}");
    }
    let out = run_rm(&env, &["--tmpfs", "/t:exec", "busybox", "sh", "-c", script]);
    assert_eq!(out, "ran\nrc=0\n", "exec lifts noexec");
    assert_after_rm_nothing_left(&env);
}

#[test]
fn tmpfs_works_with_read_only_root() {
    let env = Env::with_busybox();
    let out = run_rm_out(
        &env,
        &[
            "--read-only",
            "--tmpfs",
            "/t",
            "busybox",
            "sh",
            "-c",
            "echo ok > /t/f && cat /t/f; touch /x",
        ],
    );
    assert_eq!(stdout(&out), "ok\n", "{}", stderr(&out));
    assert_read_only_failure(&out, "--read-only root with --tmpfs");
    assert_after_rm_nothing_left(&env);
}

// ---------------------------------------------------------------------------------------------
// Copy-up
// ---------------------------------------------------------------------------------------------

/// Listing of a directory with names, modes, owners, types (symlinks with their targets).
fn listing_cmd(dir: &str) -> String {
    format!(
        "cd {dir} && find . | sort | while read f; do \
         case $f in ./hostname|./hosts|./resolv.conf|./mtab) continue;; esac; \
         stat -c '%N|%a|%u|%g|%F' \"$f\"; done"
    )
}

#[test]
fn copy_up_fills_a_new_named_volume_keeping_content_owners_modes_and_symlinks() {
    let env = Env::with_busybox();
    let cmd = listing_cmd("/etc");
    let image = run_rm(&env, &["busybox", "sh", "-c", &cmd]);
    let passwd = run_rm(&env, &["busybox", "cat", "/etc/passwd"]);
    assert!(passwd.contains("root:x:0:0"), "{passwd}");
    let with_vol = run_rm(&env, &["-v", "etcvol:/etc", "busybox", "sh", "-c", &cmd]);
    assert_eq!(
        with_vol, image,
        "/etc seen through a fresh volume equals the image's"
    );
    let data = data_dir(&env, "etcvol");
    assert_eq!(
        std::fs::read_to_string(data.join("passwd")).unwrap(),
        passwd
    );
    assert!(data.join("group").is_file());
    assert!(
        data.join("nsbox-release").is_file(),
        "copied from the merged view"
    );
    assert!(!data.join("motd").exists(), "whited-out file is not copied");
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = std::fs::metadata(data.join("passwd")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o644);
    assert_eq!((m.uid(), m.gid()), (0, 0));

    // Owners and modes of nested dirs: /home/app is 1000:1000, /var/tmp is 1777.
    let out = run_rm(
        &env,
        &[
            "-v",
            "homevol:/home",
            "-v",
            "varvol:/var",
            "busybox",
            "stat",
            "-c",
            "%u:%g %a",
            "/home/app",
            "/var/tmp",
        ],
    );
    assert_eq!(out, "1000:1000 755\n0:0 1777\n");
    let m = std::fs::metadata(data_dir(&env, "homevol").join("app")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1000, 1000));
    let m = std::fs::metadata(data_dir(&env, "varvol").join("tmp")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o1777);

    // Symlinks stay symlinks; /bin through a volume still runs sh.
    let out = run_rm(
        &env,
        &[
            "-v",
            "binvol:/bin",
            "busybox",
            "sh",
            "-c",
            "readlink /bin/sh; echo ok",
        ],
    );
    assert_eq!(out, "busybox\nok\n");
    assert_eq!(
        std::fs::read_link(data_dir(&env, "binvol").join("sh")).unwrap(),
        Path::new("busybox")
    );
    assert!(
        std::fs::symlink_metadata(data_dir(&env, "binvol").join("busybox"))
            .unwrap()
            .is_file()
    );

    // An anonymous volume is copied up too (otherwise there would be no /bin/sh).
    let out = run_rm(&env, &["-v", "/bin", "busybox", "sh", "-c", "echo anon-ok"]);
    assert_eq!(out, "anon-ok\n");
    assert_after_rm_nothing_left(&env);
}

#[test]
fn nocopy_leaves_the_volume_empty() {
    let env = Env::with_busybox();
    let out = run_rm(
        &env,
        &[
            "-v",
            "nc:/etc/skel-demo:nocopy",
            "busybox",
            "ls",
            "-A",
            "/etc/skel-demo",
        ],
    );
    assert_eq!(out, "", "nocopy: nothing copied");
    assert_eq!(
        std::fs::read_dir(data_dir(&env, "nc")).unwrap().count(),
        0,
        "volume data dir empty"
    );
    let out = run_rm(
        &env,
        &[
            "--mount",
            "type=volume,src=nc2,dst=/etc/skel-demo,volume-nocopy",
            "busybox",
            "ls",
            "-A",
            "/etc/skel-demo",
        ],
    );
    assert_eq!(out, "", "volume-nocopy: nothing copied");
    assert_eq!(std::fs::read_dir(data_dir(&env, "nc2")).unwrap().count(), 0);
    // Without nocopy the same path is copied (the control).
    let out = run_rm(
        &env,
        &[
            "-v",
            "nc3:/etc/skel-demo",
            "busybox",
            "ls",
            "-A",
            "/etc/skel-demo",
        ],
    );
    assert_eq!(out, "c\n");
    assert_after_rm_nothing_left(&env);
}

#[test]
fn copy_up_is_not_repeated_into_a_non_empty_volume() {
    let env = Env::with_busybox();
    let out = run_rm(
        &env,
        &[
            "-v",
            "vv:/etc/skel-demo",
            "busybox",
            "sh",
            "-c",
            "ls /etc/skel-demo; rm /etc/skel-demo/c; echo mine > /etc/skel-demo/marker",
        ],
    );
    assert_eq!(out, "c\n", "first use copies the image's content");
    let out = run_rm(
        &env,
        &[
            "-v",
            "vv:/etc/skel-demo",
            "busybox",
            "ls",
            "-A",
            "/etc/skel-demo",
        ],
    );
    assert_eq!(out, "marker\n", "second use does not copy again");
    // A volume that got its content elsewhere is not filled either.
    run_rm(
        &env,
        &[
            "-v",
            "ww:/newdir",
            "busybox",
            "sh",
            "-c",
            "echo w > /newdir/own",
        ],
    );
    let out = run_rm(&env, &["-v", "ww:/etc", "busybox", "ls", "-A", "/etc"]);
    assert!(out.lines().any(|l| l == "own"), "{out}");
    assert!(
        !out.lines().any(|l| l == "passwd"),
        "non-empty volume over /etc is not copied into: {out}"
    );
    assert!(!data_dir(&env, "ww").join("passwd").exists());
    assert_after_rm_nothing_left(&env);
}

// ---------------------------------------------------------------------------------------------
// --volumes-from
// ---------------------------------------------------------------------------------------------

#[test]
fn volumes_from_a_stopped_container_and_read_only() {
    let env = Env::with_busybox();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("h"), "bind\n").unwrap();
    let bind = format!("{}:/hostdata", s(host.path()));
    env.ok(&[
        "run",
        "--name",
        "src",
        "-v",
        "srcvol:/data",
        "-v",
        &bind,
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo named > /data/f; echo anon > /anon/g",
    ]);
    let out = run_rm(
        &env,
        &[
            "--volumes-from",
            "src",
            "busybox",
            "sh",
            "-c",
            "cat /data/f /hostdata/h /anon/g; echo more > /data/f2",
        ],
    );
    assert_eq!(out, "named\nbind\nanon\n");
    assert_eq!(
        std::fs::read_to_string(data_dir(&env, "srcvol").join("f2")).unwrap(),
        "more\n"
    );
    // :ro makes every inherited mount read-only.
    for path in ["/data/x", "/hostdata/x", "/anon/x"] {
        let out = run_rm_out(
            &env,
            &[
                "--volumes-from",
                "src:ro",
                "busybox",
                "sh",
                "-c",
                &format!("cat /data/f; echo x > {path}"),
            ],
        );
        assert_eq!(stdout(&out), "named\n", "{}", stderr(&out));
        assert_read_only_failure(&out, &format!("--volumes-from src:ro, write {path}"));
    }
    assert!(!host.path().join("x").exists());
    // :rw explicitly is fine.
    run_rm(
        &env,
        &[
            "--volumes-from",
            "src:rw",
            "busybox",
            "sh",
            "-c",
            "echo y > /hostdata/y",
        ],
    );
    assert!(host.path().join("y").exists());
    // The anonymous volume stays with src (the --rm consumers do not remove it).
    assert_eq!(
        vol_ls_q(&env, &[]).len(),
        2,
        "srcvol and src's anonymous volume"
    );
    env.ok(&["rm", "-v", "src"]);
    assert_eq!(vol_ls_q(&env, &[]), vec!["srcvol"]);
    assert_after_rm_nothing_left(&env);
}

// ---------------------------------------------------------------------------------------------
// inspect
// ---------------------------------------------------------------------------------------------

#[test]
fn inspect_mounts_are_docker_shaped() {
    let env = Env::with_busybox();
    let host = tempfile::tempdir().unwrap();
    let bind = format!("{}:/bind:ro", s(host.path()));
    env.ok(&[
        "run", "--name", "c", "-v", "nv:/vol", "-v", &bind, "--tmpfs", "/scr", "busybox", "true",
    ]);
    let mounts = mounts_json(&env, "c");
    assert_eq!(mounts.len(), 3, "{mounts:?}");

    let v = mount_at(&mounts, "/vol");
    assert_eq!(v["Type"], "volume", "{v}");
    assert_eq!(v["Name"], "nv", "{v}");
    assert_eq!(v["Source"], s(&data_dir(&env, "nv")), "{v}");
    assert_eq!(v["Driver"], "local", "{v}");
    assert_eq!(v["RW"], true, "{v}");
    assert!(v["Mode"].is_string(), "{v}");
    assert!(v.get("Propagation").is_some(), "{v}");

    let b = mount_at(&mounts, "/bind");
    assert_eq!(b["Type"], "bind", "{b}");
    assert_eq!(b["Source"], s(host.path()), "{b}");
    assert_eq!(b["RW"], false, "{b}");
    assert_eq!(b["Propagation"], "rprivate", "{b}");
    assert!(b["Mode"].as_str().unwrap_or("").contains("ro"), "{b}");

    let t = mount_at(&mounts, "/scr");
    assert_eq!(t["Type"], "tmpfs", "{t}");
    assert_eq!(t["RW"], true, "{t}");
    assert!(t.get("Mode").is_some(), "{t}");

    env.ok(&["rm", "c"]);
    assert_eq!(containers_in(&env), 0);
}

#[test]
fn volume_ro_and_bind_options_z_and_propagation_are_accepted() {
    let env = Env::with_busybox();
    let ha = tempfile::tempdir().unwrap();
    let hb = tempfile::tempdir().unwrap();
    let hc = tempfile::tempdir().unwrap();
    let a = format!("{}:/a:z", s(ha.path()));
    let b = format!("{}:/b:Z,ro", s(hb.path()));
    let c = format!("{}:/c:private,rw", s(hc.path()));
    let out = env.nsbox(&[
        "run",
        "--name",
        "c",
        "-v",
        &a,
        "-v",
        &b,
        "-v",
        &c,
        "-v",
        "nvro:/vol:ro",
        "busybox",
        "sh",
        "-c",
        "echo a > /a/f; echo c > /c/f; echo b > /b/f; echo v > /vol/f; echo done",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "done\n");
    assert_eq!(
        stderr(&out).matches("Read-only file system").count(),
        2,
        "/b (Z,ro) and /vol (ro volume) refuse writes: {}",
        stderr(&out)
    );
    assert!(ha.path().join("f").exists(), ":z is accepted and ignored");
    assert!(hc.path().join("f").exists());
    assert!(!hb.path().join("f").exists());
    assert!(!data_dir(&env, "nvro").join("f").exists());

    let mounts = mounts_json(&env, "c");
    assert_eq!(mount_at(&mounts, "/a")["RW"], true);
    assert_eq!(mount_at(&mounts, "/a")["Propagation"], "rprivate");
    assert_eq!(mount_at(&mounts, "/b")["RW"], false);
    assert_eq!(mount_at(&mounts, "/c")["RW"], true);
    assert_eq!(mount_at(&mounts, "/c")["Propagation"], "private");
    assert_eq!(mount_at(&mounts, "/vol")["RW"], false);
    assert_eq!(mount_at(&mounts, "/vol")["Type"], "volume");
    env.ok(&["rm", "-v", "c"]);
    assert_eq!(vol_ls_q(&env, &[]), vec!["nvro"]);
    assert_eq!(containers_in(&env), 0);
}

// ---------------------------------------------------------------------------------------------
// volume verbs
// ---------------------------------------------------------------------------------------------

#[test]
fn volume_create_ls_filters_inspect_and_labels() {
    let env = Env::with_busybox();
    let out = env.ok(&[
        "volume", "create", "myvol", "--label", "a=b", "--label", "c=d",
    ]);
    assert_eq!(out, "myvol\n");
    let anon = env.ok(&["volume", "create"]).trim().to_string();
    assert!(is_hex64(&anon), "{anon}");
    assert!(data_dir(&env, "myvol").is_dir());
    assert!(data_dir(&env, &anon).is_dir());

    let table = env.ok(&["volume", "ls"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap_or("");
    assert!(
        header.contains("DRIVER") && header.contains("VOLUME NAME"),
        "{table}"
    );
    let mut rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    rows.sort();
    let mut want = vec![vec!["local", anon.as_str()], vec!["local", "myvol"]];
    want.sort();
    assert_eq!(rows, want, "{table}");

    let mut both = vec![anon.clone(), "myvol".to_string()];
    both.sort();
    assert_eq!(vol_ls_q(&env, &[]), both);
    assert_eq!(vol_ls_q(&env, &["--filter", "name=myv"]), vec!["myvol"]);
    assert_eq!(vol_ls_q(&env, &["--filter", "dangling=true"]), both);
    assert!(vol_ls_q(&env, &["--filter", "dangling=false"]).is_empty());

    // A stopped container that exists makes myvol used.
    env.ok(&["run", "--name", "c", "-v", "myvol:/x", "busybox", "true"]);
    assert_eq!(
        vol_ls_q(&env, &["--filter", "dangling=false"]),
        vec!["myvol"]
    );
    assert_eq!(
        vol_ls_q(&env, &["--filter", "dangling=true"]),
        vec![anon.clone()]
    );

    let out = env.ok(&["volume", "inspect", "myvol"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let arr = v.as_array().expect("an array");
    assert_eq!(arr.len(), 1);
    let m = &arr[0];
    assert_eq!(m["Name"], "myvol");
    assert_eq!(m["Mountpoint"], s(&data_dir(&env, "myvol")));
    assert_eq!(m["Driver"], "local");
    assert_eq!(m["Scope"], "local");
    assert!(
        !m["CreatedAt"].as_str().unwrap_or("").is_empty(),
        "CreatedAt: {m}"
    );
    assert_eq!(m["Labels"], serde_json::json!({"a": "b", "c": "d"}));

    let out = env.ok(&["volume", "inspect", "myvol", &anon]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v.as_array().map(|a| a.len()), Some(2), "{out}");

    let missing = env.nsbox(&["volume", "inspect", "nosuch"]);
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));

    env.ok(&["rm", "c"]);
}

#[test]
fn volume_rm_is_refused_while_a_running_container_uses_it() {
    let env = Env::with_busybox();
    let bg = Bg::spawn(
        &env,
        "user",
        &[
            "run",
            "--name",
            "user",
            "-v",
            "used:/data",
            "busybox",
            "sleep",
            "30",
        ],
        false,
    );
    bg.wait_running();
    let out = env.nsbox(&["volume", "rm", "used"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("volume is in use"),
        "{}",
        stderr(&out)
    );
    let out = env.nsbox(&["volume", "rm", "-f", "used"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "-f does not remove a volume a running container uses: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("volume is in use"),
        "{}",
        stderr(&out)
    );
    assert!(data_dir(&env, "used").is_dir());
    assert_eq!(vol_ls_q(&env, &[]), vec!["used"]);

    env.ok(&["rm", "-f", "user"]);
    drop(bg);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    // Still there after the container is gone; now it can be removed.
    assert_eq!(vol_ls_q(&env, &[]), vec!["used"]);
    env.ok(&["volume", "rm", "used"]);
    assert!(vol_ls_q(&env, &[]).is_empty());
    assert!(!env.root().join("volumes/used").exists());
    assert_eq!(containers_in(&env), 0);
}

#[test]
fn volume_rm_force_removes_a_volume_only_a_stopped_container_uses() {
    let env = Env::with_busybox();
    env.ok(&["run", "--name", "s", "-v", "sv:/data", "busybox", "true"]);
    let out = env.nsbox(&["volume", "rm", "sv"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("volume is in use"),
        "{}",
        stderr(&out)
    );
    assert!(data_dir(&env, "sv").is_dir());
    env.ok(&["volume", "rm", "-f", "sv"]);
    assert!(vol_ls_q(&env, &[]).is_empty());
    assert!(!env.root().join("volumes/sv").exists());
    // The container can still be removed afterwards.
    env.ok(&["rm", "-v", "s"]);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert_eq!(containers_in(&env), 0);
}

#[test]
fn volume_prune_and_prune_all() {
    let env = Env::with_busybox();
    env.ok(&["volume", "create", "named1"]);
    // A dangling anonymous volume.
    env.ok(&["run", "--name", "a", "-v", "/anon", "busybox", "true"]);
    let dangling_anon = vol_ls_q(&env, &[])
        .into_iter()
        .find(|n| is_hex64(n))
        .unwrap();
    env.ok(&["rm", "a"]);
    // Volumes a stopped container still uses.
    env.ok(&[
        "run",
        "--name",
        "keep",
        "-v",
        "/anon2",
        "-v",
        "usednamed:/n",
        "busybox",
        "true",
    ]);
    let used_anon = vol_ls_q(&env, &[])
        .into_iter()
        .find(|n| is_hex64(n) && *n != dangling_anon)
        .unwrap();
    assert_eq!(vol_ls_q(&env, &[]).len(), 4);

    let out = env.ok(&["volume", "prune", "-f"]);
    assert!(out.contains("Deleted Volumes:"), "{out}");
    assert!(out.contains(&dangling_anon), "{out}");
    assert!(out.contains("Total reclaimed space"), "{out}");
    let mut want = vec![
        "named1".to_string(),
        "usednamed".to_string(),
        used_anon.clone(),
    ];
    want.sort();
    assert_eq!(
        vol_ls_q(&env, &[]),
        want,
        "prune removes only unused anonymous volumes"
    );
    assert!(!env.root().join("volumes").join(&dangling_anon).exists());

    let out = env.ok(&["volume", "prune", "-f", "--all"]);
    assert!(out.contains("Deleted Volumes:"), "{out}");
    assert!(out.contains("named1"), "{out}");
    assert!(out.contains("Total reclaimed space"), "{out}");
    let mut want = vec!["usednamed".to_string(), used_anon.clone()];
    want.sort();
    assert_eq!(
        vol_ls_q(&env, &[]),
        want,
        "--all also removes unused named volumes"
    );

    env.ok(&["rm", "-v", "keep"]);
    assert_eq!(vol_ls_q(&env, &[]), vec!["usednamed"]);
    let out = env.ok(&["volume", "prune", "-f", "--all"]);
    assert!(out.contains("usednamed"), "{out}");
    assert!(vol_ls_q(&env, &[]).is_empty());
    assert_eq!(containers_in(&env), 0);
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_mount_input_is_125_one_line_and_creates_nothing() {
    let env = Env::with_busybox();
    let host = tempfile::tempdir().unwrap();
    let missing = host.path().join("missing");
    let bogus_src = format!("{}:/y:bogus", s(&missing));
    let bind_missing = format!("type=bind,src={},dst=/x", s(&missing));
    let dup_bind = format!("{}:/x", s(host.path()));
    // Each bad input, and a word the one-line error must contain (naming the offence).
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-v", "data:rel"], "rel"),
        (vec!["-v", "/a/../b"], ".."),
        (vec!["-v", "data:/a/../b"], ".."),
        (vec!["-v", "va:/x", "-v", "vb:/x"], "/x"),
        (vec!["-v", &dup_bind, "--tmpfs", "/x"], "/x"),
        (
            vec!["-v", "va:/x", "--mount", "type=volume,src=vb,dst=/x"],
            "/x",
        ),
        (vec!["-v", &bogus_src], "bogus"),
        (vec!["-v", "data:/y:bogus"], "bogus"),
        (
            vec!["--mount", "type=volume,src=vv,dst=/x,bogus=1"],
            "bogus",
        ),
        (vec!["-v", "bad$name:/x"], "bad$name"),
        (
            vec!["--mount", &bind_missing],
            "bind source path does not exist",
        ),
        (vec!["--volumes-from", "nosuch"], "nosuch"),
        (vec!["-v", "data:/"], "/"),
        (vec!["-v", "/"], "/"),
        (vec!["-v", "data:/proc"], "/proc"),
    ];
    for (case, needle) in &cases {
        let mut args = vec!["run"];
        args.extend_from_slice(case);
        args.extend_from_slice(&["busybox", "true"]);
        let out = env.nsbox(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(125), "{case:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{case:?}: one line: {err}"
        );
        assert!(err.starts_with("nsbox: "), "{case:?}: {err}");
        assert!(
            err.contains(needle),
            "{case:?}: error names {needle:?}: {err}"
        );
        assert_eq!(env.ok(&["ps", "-aq"]), "", "{case:?}: no container");
        assert_eq!(
            containers_in(&env),
            0,
            "{case:?}: nothing in <root>/containers"
        );
        assert!(
            volume_dirs(&env).is_empty(),
            "{case:?}: no volume created: {:?}",
            volume_dirs(&env)
        );
        assert!(env.mounts().is_empty(), "{case:?}: {:?}", env.mounts());
        assert!(!missing.exists(), "{case:?}: host path not created");
        assert_eq!(
            std::fs::read_dir(host.path()).unwrap().count(),
            0,
            "{case:?}: nothing created in the host dir"
        );
    }
    assert!(
        vol_ls_q(&env, &[]).is_empty(),
        "volume ls is empty after bad input"
    );
}

// ---------------------------------------------------------------------------------------------
// Propagation
// ---------------------------------------------------------------------------------------------

/// Start a container with `-v D:/data:OPTS` (D a shared mount made by the test), mount a tmpfs
/// under D on the host once the container is up, and return what the container saw.
fn propagation_probe(opts: &str) -> String {
    let env = Env::with_busybox();
    let d = tempfile::tempdir().unwrap();
    let dp = d.path().to_path_buf();
    std::fs::create_dir(dp.join("sub")).unwrap();
    let _d_mount = HostMount(dp.clone());
    sh_host(&format!(
        "mount --bind '{0}' '{0}' && mount --make-private '{0}' && mount --make-shared '{0}'",
        dp.display()
    ));
    let spec = if opts.is_empty() {
        format!("{}:/data", dp.display())
    } else {
        format!("{}:/data:{opts}", dp.display())
    };
    let script = "touch /data/ready; i=0; while [ $i -lt 100 ]; do \
                  if [ -e /data/sub/marker ]; then echo seen; exit 0; fi; \
                  sleep 0.1; i=$((i+1)); done; echo notseen";
    let mut bg = Bg::spawn(
        &env,
        "prop",
        &[
            "run", "--rm", "--name", "prop", "-v", &spec, "busybox", "sh", "-c", script,
        ],
        true,
    );
    let ready = wait_for(30, || dp.join("ready").exists());
    if !ready {
        let _ = env.nsbox(&["rm", "-f", "prop"]);
        let out = bg.wait_output();
        panic!(
            "container never became ready: {:?} {} {}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        );
    }
    let sub = dp.join("sub");
    let _sub_mount = HostMount(sub.clone());
    sh_host(&format!(
        "mount -t tmpfs -o size=1m tmpfs '{0}' && echo m > '{0}/marker'",
        sub.display()
    ));
    let out = bg.wait_output();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    drop(bg);
    assert_eq!(containers_in(&env), 0);
    assert!(env.mounts().is_empty(), "{:?}", env.mounts());
    stdout(&out)
}

#[test]
fn propagation_rslave_sees_a_host_mount_made_after_start() {
    assert_eq!(propagation_probe("rslave"), "seen\n");
}

#[test]
fn propagation_default_rprivate_does_not_see_a_later_host_mount() {
    assert_eq!(propagation_probe(""), "notseen\n");
}

#[test]
fn propagation_explicit_rprivate_does_not_see_a_later_host_mount() {
    assert_eq!(propagation_probe("rprivate"), "notseen\n");
}
