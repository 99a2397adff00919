//! Shared harness for integration tests: each test gets its own data root, drives the built
//! binary, and on drop asserts that nothing it made is still mounted.
#![allow(dead_code)]

pub mod bundle;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const NSBOX: &str = env!("CARGO_BIN_EXE_nsbox");

/// Where `make images` put the test images (NSBOX_TEST_IMAGES overrides).
pub fn images_dir() -> PathBuf {
    std::env::var_os("NSBOX_TEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/images"))
}

/// The OCI archive of the default busybox image.
pub fn busybox_archive() -> PathBuf {
    images_dir().join("busybox-oci.tar")
}

pub struct Env {
    pub root: tempfile::TempDir,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    pub fn new() -> Self {
        // Under /tmp so that overlay upper dirs sit on a real local filesystem (ext4 or tmpfs).
        let root = tempfile::Builder::new()
            .prefix("nsbox-test-")
            .tempdir_in(std::env::temp_dir())
            .expect("temp data root");
        Env { root }
    }

    /// An Env with busybox:latest already loaded.
    pub fn with_busybox() -> Self {
        let env = Self::new();
        let out = env.nsbox(&["load", "-q", "-i", busybox_archive().to_str().unwrap()]);
        assert!(
            out.status.success(),
            "load busybox: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        env
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(NSBOX);
        c.env("NSBOX_ROOT", self.root.path());
        c.stdin(Stdio::null());
        c
    }

    /// Run nsbox with these args; capture everything.
    pub fn nsbox(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("spawn nsbox")
    }

    /// Run nsbox, assert success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.nsbox(args);
        assert!(
            out.status.success(),
            "nsbox {:?} failed ({:?}): {}",
            args,
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Mount points under this data root that are still mounted.
    pub fn mounts(&self) -> Vec<String> {
        mounts_under(self.root.path())
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let left = self.mounts();
        // Clean up even if a test failed, so one failure does not leak into the machine.
        for m in left.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        if !std::thread::panicking() {
            assert!(left.is_empty(), "mounts left behind: {left:?}");
        }
    }
}

/// Mount points (from /proc/self/mountinfo) at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let dir = dir.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| mp.starts_with(dir.as_ref()))
        .map(String::from)
        .collect()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Under CI (`CI=true`) a missing prerequisite is a failure: a green run must mean the
/// test ran. Locally it is a skip, said on stderr.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A prerequisite of this test is missing: returns false after saying "skipping" locally,
/// panics (fails the test) under CI. Use as `if !common::prerequisite(ok, "why") { return; }`.
pub fn prerequisite(present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    assert!(!in_ci(), "prerequisite missing under CI=true: {what}");
    eprintln!("skipping: {what}");
    false
}

/// Is `tool` on PATH? If not: a skip locally, a failure under CI (see `prerequisite`).
pub fn require_tool(tool: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(d.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    prerequisite(found, &format!("{tool} is not installed"))
}

/// Tests of the VM stage (`make test-vm`, a pure cgroup-v2 guest) run only there. On the host
/// this is not a missing prerequisite: `make test` runs them in the guest after the host stage.
pub fn in_vm() -> bool {
    let yes = std::env::var_os("NSBOX_IN_VM").is_some_and(|v| v == "1");
    if !yes {
        eprintln!("skipped here: runs in the VM stage (NSBOX_IN_VM != 1)");
    }
    yes
}

/// Poll `cond` every 20 ms until it holds; panic with `what` after `secs` seconds.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {secs}s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Wait for `child` at most `secs` seconds; kill it and panic after that.
pub fn wait_child(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(st) = child.try_wait().expect("wait for child") {
            return st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process did not end within {secs}s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `wait_with_output` with a deadline: the pipes are read on threads so a chatty child
/// cannot block on a full pipe while we wait.
pub fn output_within(mut child: std::process::Child, secs: u64) -> Output {
    use std::io::Read;
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_end(&mut b);
        }
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_end(&mut b);
        }
        b
    });
    let status = wait_child(&mut child, secs);
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// A pipe whose read end is already closed: writing to it fails with EPIPE, as when the
/// reader (`| head -1`) has gone.
pub fn closed_pipe() -> Stdio {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    Stdio::from(write)
}

/// /dev/full: every write fails with ENOSPC.
pub fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full"),
    )
}

impl Env {
    /// Entries of a directory of the data root (`containers`, `tmp`, `volumes`...), sorted.
    pub fn entries(&self, dir: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root().join(dir))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Assert that nothing of a container is left: no ps -a rows, no containers/ dirs, no mounts.
    pub fn assert_no_containers(&self) {
        let ps = self.ok(&["ps", "-aq"]);
        assert_eq!(ps.trim(), "", "containers listed");
        assert_eq!(
            self.entries("containers"),
            Vec::<String>::new(),
            "containers/ dirs"
        );
        assert_eq!(self.mounts(), Vec::<String>::new(), "mounts");
    }
}

/// Reap `child` in a Drop (no panic there): wait up to `secs`, then kill it and reap.
pub fn reap(child: &mut std::process::Child, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
