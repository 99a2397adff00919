//! The containers of `nsbox-runtime`: one directory per id under `--root` (0700), holding
//! `state.json` (our record, written atomically, 0600) and `exec.fifo` (init blocks opening
//! it for writing until `start` opens it for reading). Locked per container with flock on
//! the directory while a verb changes it.

use crate::runtime::cgroups::CgroupRef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: bad state record: {source}")]
    Decode {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// OCI status names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

/// What we keep on disk for one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Init's pid, and its start time (field 22 of /proc/PID/stat) so a reused pid is not
    /// mistaken for it.
    pub pid: i32,
    pub pid_start: u64,
    /// RFC 3339 creation time.
    pub created: String,
    /// Where the cgroup is (None: the spec asked for none we could make).
    pub cgroup: Option<CgroupRef>,
    /// Set by `start` once the fifo was opened: init has been released.
    #[serde(default)]
    pub started: bool,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The owner uid (runc's state: `owner`), "" for root.
    #[serde(default)]
    pub owner: String,
    /// `--systemd-cgroup` placement was asked for.
    #[serde(default)]
    pub systemd_cgroup: bool,
}

/// The `--root` directory.
pub struct Root {
    pub path: PathBuf,
}

impl Root {
    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.path.join(id)
    }

    pub fn fifo_of(&self, id: &str) -> PathBuf {
        self.dir_of(id).join("exec.fifo")
    }
}

/// An id runc would accept: [A-Za-z0-9_+.-]+, and not "." or "..".
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
}

/// The OCI state document (`nsbox-runtime state ID`).
pub fn oci_state(r: &Record, status: Status) -> serde_json::Value {
    let pid = if matches!(status, Status::Stopped) {
        0
    } else {
        r.pid
    };
    serde_json::json!({
        "ociVersion": "1.2.0",
        "id": r.id,
        "pid": pid,
        "status": status,
        "bundle": r.bundle,
        "rootfs": r.rootfs,
        "created": r.created,
        "owner": r.owner,
        "annotations": r.annotations,
    })
}

impl Record {
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_as_runc_accepts_them() {
        for ok in ["abc", "a-b_c.d+e", "0123456789abcdef"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "../x"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }
}
