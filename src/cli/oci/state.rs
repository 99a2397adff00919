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

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Root {
    /// Open (making it 0700 if missing) the state root.
    pub fn open(path: &Path) -> Result<Root, StateError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(io(path))?;
        Ok(Root {
            path: path.to_path_buf(),
        })
    }

    /// The record of `id`; Ok(None) when there is none.
    pub fn load(&self, id: &str) -> Result<Option<Record>, StateError> {
        if !valid_id(id) {
            return Ok(None);
        }
        let file = self.dir_of(id).join("state.json");
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&file)(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StateError::Decode { path: file, source })
    }

    /// Write `r`'s record atomically (temp file, fsync, rename), 0600.
    pub fn save(&self, r: &Record) -> Result<(), StateError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let dir = self.dir_of(&r.id);
        let tmp = dir.join(".state.json.tmp");
        let file = dir.join("state.json");
        let bytes = serde_json::to_vec(r).map_err(|source| StateError::Decode {
            path: file.clone(),
            source,
        })?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(&bytes)
            .and_then(|()| f.sync_all())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &file).map_err(io(&file))
    }

    /// Every record under the root (entries without a readable record are skipped).
    pub fn list(&self) -> Result<Vec<Record>, StateError> {
        let rd = match std::fs::read_dir(&self.path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.path)(e)),
        };
        let mut out = Vec::new();
        for entry in rd.flatten() {
            if let Some(name) = entry.file_name().to_str() {
                if let Ok(Some(r)) = self.load(name) {
                    out.push(r);
                }
            }
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

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
    /// Is init still the process we started (same pid and start time, not a zombie)?
    pub fn alive(&self) -> bool {
        crate::state::process_alive(self.pid, self.pid_start)
    }

    /// The OCI status now: stopped once init is gone; created until `start` released it;
    /// paused while its cgroup is frozen.
    pub fn status(&self) -> Status {
        if !self.alive() {
            return Status::Stopped;
        }
        if !self.started {
            return Status::Created;
        }
        if self.cgroup.as_ref().is_some_and(is_frozen) {
            return Status::Paused;
        }
        Status::Running
    }
}

/// Whether the cgroup's freezer says frozen (v1 `freezer.state`, v2 `cgroup.events`).
pub fn is_frozen(r: &CgroupRef) -> bool {
    let cg = crate::runtime::cgroups::Cgroup::open(r);
    cg.dirs().iter().any(|d| {
        std::fs::read_to_string(d.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
            || std::fs::read_to_string(d.join("cgroup.events"))
                .is_ok_and(|s| s.lines().any(|l| l.trim() == "frozen 1"))
    })
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
