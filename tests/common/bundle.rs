//! OCI bundles for the `nsbox-runtime` tests: a busybox rootfs and runc's default
//! config.json (from `runc spec`), with the process changed per test, and a private `--root`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The runc personality: the `nsbox-runtime` link beside the built binary (`make build`
/// makes it; made here too, so `cargo nextest run` alone works).
pub fn runtime_bin() -> PathBuf {
    let nsbox = Path::new(super::NSBOX);
    let link = nsbox.with_file_name("nsbox-runtime");
    if std::fs::read_link(&link).is_err() {
        let _ = std::os::unix::fs::symlink("nsbox", &link);
    }
    link
}

pub struct Bundle {
    pub dir: tempfile::TempDir,
    /// The `--root` of nsbox-runtime for this test.
    pub state: tempfile::TempDir,
}

const APPLETS: &[&str] = &[
    "sh", "sleep", "echo", "cat", "id", "ls", "true", "false", "tty", "grep", "kill", "pwd", "env",
];

impl Bundle {
    /// A bundle whose process runs `args`, not on a terminal. None (after saying why, or
    /// failing under CI) when runc is missing to write the default config.
    pub fn new(args: &[&str]) -> Option<Bundle> {
        if !super::require_tool("runc") {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("nsbox-bundle-")
            .tempdir()
            .expect("bundle dir");
        let state = tempfile::Builder::new()
            .prefix("nsbox-rt-")
            .tempdir()
            .expect("state dir");
        let bin = dir.path().join("rootfs/bin");
        std::fs::create_dir_all(&bin).expect("rootfs/bin");
        for d in ["tmp", "proc", "dev", "sys", "etc"] {
            std::fs::create_dir_all(dir.path().join("rootfs").join(d)).expect("rootfs dir");
        }
        std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy busybox");
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(a)).expect("applet link");
        }
        let out = Command::new("runc")
            .args(["spec", "--bundle"])
            .arg(dir.path())
            .output()
            .expect("runc spec");
        assert!(out.status.success(), "runc spec: {}", super::stderr(&out));
        let b = Bundle { dir, state };
        b.edit(|c| {
            c["process"]["terminal"] = false.into();
            c["process"]["args"] = args.into();
        });
        Some(b)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Change config.json.
    pub fn edit(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let p = self.path().join("config.json");
        let mut c: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&p).expect("read config.json")).expect("json");
        f(&mut c);
        std::fs::write(&p, serde_json::to_vec_pretty(&c).expect("json")).expect("write");
    }

    /// `nsbox-runtime --root STATE ARGS…`, stdin from /dev/null, output captured.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(runtime_bin());
        c.arg("--root").arg(self.state.path());
        c.stdin(Stdio::null());
        c
    }

    /// Output goes to files, not pipes: `create` leaves init holding the stdio it was
    /// given (as with runc), so a pipe would never reach EOF.
    pub fn rt(&self, args: &[&str]) -> Output {
        let out = tempfile::tempfile().expect("stdout file");
        let err = tempfile::tempfile().expect("stderr file");
        let mut child = self
            .cmd()
            .args(args)
            .stdout(out.try_clone().expect("dup"))
            .stderr(err.try_clone().expect("dup"))
            .spawn()
            .expect("spawn nsbox-runtime");
        let status = super::wait_child(&mut child, 60);
        Output {
            status,
            stdout: read_all(out),
            stderr: read_all(err),
        }
    }

    /// Assert success and return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.rt(args);
        assert!(
            out.status.success(),
            "nsbox-runtime {args:?}: {}",
            super::stderr(&out)
        );
        super::stdout(&out)
    }

    /// `create --bundle B ID`.
    pub fn create(&self, id: &str) -> Output {
        let b = self.path().to_str().expect("utf-8 path").to_string();
        self.rt(&["create", "--bundle", &b, id])
    }

    /// The OCI state of `id`, parsed.
    pub fn state_of(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state json")
    }

    pub fn status(&self, id: &str) -> String {
        self.state_of(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Ids still recorded under the state root.
    pub fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.state.path())
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| {
                        e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.')
                    })
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

fn read_all(mut f: std::fs::File) -> Vec<u8> {
    use std::io::{Read, Seek};
    let mut v = Vec::new();
    let _ = f.rewind();
    let _ = f.read_to_end(&mut v);
    v
}

impl Drop for Bundle {
    /// Whatever a failed test left: killed and deleted.
    fn drop(&mut self) {
        for id in self.ids() {
            let _ = self.cmd().args(["delete", "--force", &id]).output();
        }
    }
}

/// This process's own cgroup in the v1 memory hierarchy (or v2), where nsbox-runtime puts
/// `nsbox-<id>` for a spec without cgroupsPath.
pub fn own_cgroup_dirs() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut dirs = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        let base = if ctrls.is_empty() {
            if Path::new("/sys/fs/cgroup/unified").is_dir() {
                PathBuf::from("/sys/fs/cgroup/unified")
            } else {
                PathBuf::from("/sys/fs/cgroup")
            }
        } else {
            let first = ctrls.split(',').next().unwrap_or(ctrls);
            let name = first.trim_start_matches("name=");
            PathBuf::from("/sys/fs/cgroup").join(name)
        };
        dirs.push(base.join(path.trim_start_matches('/')));
    }
    dirs
}

/// Is any `nsbox-<id>` cgroup left below our own cgroups?
pub fn cgroup_left(id: &str) -> Option<PathBuf> {
    own_cgroup_dirs()
        .into_iter()
        .map(|d| d.join(format!("nsbox-{id}")))
        .find(|d| d.exists())
}
