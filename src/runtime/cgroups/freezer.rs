//! Freezing a container's cgroup for a consistent read of its files (`commit --pause`):
//! v1 `freezer.state` FROZEN/THAWED, v2 `cgroup.freeze` 1/0 (frozen once `cgroup.events`
//! says `frozen 1`). The returned guard thaws on drop, so every path out thaws, errors
//! included; SIGINT/SIGTERM/SIGHUP wait until then (they stay pending, then act).

use super::{Cgroup, CgroupRef, Mode};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum FreezeError {
    #[error("pause the container: no freezer for its cgroup")]
    NoFreezer,
    #[error("pause the container: {path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error("pause the container: not frozen after {0:?}")]
    Timeout(Duration),
}

/// A frozen cgroup; thawed when dropped (unless it was frozen before we came).
pub struct Frozen {
    file: PathBuf,
    thaw: Option<&'static str>,
    old_mask: Option<SigSet>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FreezeError + '_ {
    move |err| FreezeError::Io {
        path: path.display().to_string(),
        err,
    }
}

/// Freeze the cgroup `r`, waiting at most `limit` for every task to stop.
pub fn freeze(r: &CgroupRef, limit: Duration) -> Result<Frozen, FreezeError> {
    let cg = Cgroup::open(r);
    let v2 = r.mode == Mode::Unified;
    let name = if v2 { "cgroup.freeze" } else { "freezer.state" };
    let dir = cg
        .dirs()
        .into_iter()
        .find(|d| d.join(name).exists())
        .ok_or(FreezeError::NoFreezer)?;
    let file = dir.join(name);
    let (probe, want) = if v2 {
        (dir.join("cgroup.events"), "frozen 1")
    } else {
        (file.clone(), "FROZEN")
    };
    let is_frozen = || -> Result<bool, FreezeError> {
        let now = fs::read_to_string(&probe).map_err(io(&probe))?;
        Ok(now.lines().any(|l| l.trim() == want))
    };
    if is_frozen()? {
        // Paused by someone else: leave it as we found it.
        return Ok(Frozen {
            file,
            thaw: None,
            old_mask: None,
        });
    }
    let mut block = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        block.add(s);
    }
    let mut old = SigSet::empty();
    let old_mask =
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&block), Some(&mut old))
            .ok()
            .map(|()| old);
    let frozen = Frozen {
        file: file.clone(),
        thaw: Some(if v2 { "0" } else { "THAWED" }),
        old_mask,
    };
    fs::write(&file, if v2 { "1" } else { "FROZEN" }).map_err(io(&file))?;
    let deadline = Instant::now() + limit;
    loop {
        if is_frozen()? {
            return Ok(frozen);
        }
        if Instant::now() >= deadline {
            return Err(FreezeError::Timeout(limit)); // `frozen` drops: thawed
        }
        if !v2 {
            // v1 may stay FREEZING if a task was busy; asking again retries.
            let _ = fs::write(&file, "FROZEN");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if let Some(thaw) = self.thaw {
            let _ = fs::write(&self.file, thaw);
        }
        if let Some(old) = self.old_mask.take() {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        }
    }
}
