//! Shared harness for integration tests: each test gets its own data root, drives the built
//! binary, and on drop asserts that nothing it made is still mounted.
#![allow(dead_code)]

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
