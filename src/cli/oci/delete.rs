//! `delete [--force] ID`: a stopped (or created) container goes; a running one only with
//! --force (SIGKILL to its whole cgroup first). Then the poststop hooks, the cgroup and the
//! record — nothing of it is left.

use super::args::{DeleteArgs, Global};
use super::state::{self, Record, Root, Status};
use super::{OciError, Result};
use crate::runtime::{cgroups::Cgroup, hooks};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

pub fn delete(g: &Global, a: DeleteArgs) -> Result<i32> {
    let root = Root::open(&g.root)?;
    let Some(r) = root.load(&a.id)? else {
        // A directory left by a create killed half-way goes too (runc: a force delete of
        // something without state succeeds).
        let dir = root.dir_of(&a.id);
        if state::valid_id(&a.id) && dir.is_dir() {
            let _ = std::fs::remove_dir_all(&dir);
            return Ok(0);
        }
        return Err(OciError::NotFound(a.id.clone()));
    };
    match r.status() {
        Status::Stopped | Status::Created => {}
        s if !a.force => {
            return Err(OciError::other(format!(
                "cannot delete container {} that is not stopped: {}",
                a.id,
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            )))
        }
        _ => {}
    }
    destroy(&root, &r)?;
    Ok(0)
}

/// Kill whatever is left, wait (bounded) for it to go, run poststop, remove cgroup and
/// record.
pub fn destroy(root: &Root, r: &Record) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = super::kill::cgroup_pids(r);
        let live: Vec<i32> = pids
            .into_iter()
            .filter(|&p| p != r.pid || r.alive())
            .collect();
        if live.is_empty() && !r.alive() {
            break;
        }
        if let Some(cg) = &r.cgroup {
            // Frozen tasks cannot die: thaw first.
            if state::is_frozen(cg) {
                thaw(cg);
            }
        }
        for p in live {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        if Instant::now() > deadline {
            return Err(OciError::other(format!(
                "container {}: processes still alive 10s after SIGKILL",
                r.id
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if let Ok(spec) = oci_spec::runtime::Spec::load(r.bundle.join("config.json")) {
        if let Some(h) = spec.hooks() {
            let st = state::oci_state(r, Status::Stopped).to_string();
            if let Err(e) = hooks::run("poststop", h.poststop().as_deref().unwrap_or(&[]), &st) {
                eprintln!("nsbox-runtime: {e}");
            }
        }
    }
    if let Some(cg) = &r.cgroup {
        let mut tries = 0;
        while let Err(e) = Cgroup::open(cg).remove() {
            tries += 1;
            if tries > 200 {
                return Err(OciError::other(format!("remove cgroup: {e}")));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let dir = root.dir_of(&r.id);
    std::fs::remove_dir_all(&dir)
        .map_err(|e| OciError::other(format!("{}: {e}", dir.display())))?;
    Ok(())
}

fn thaw(cg: &crate::runtime::cgroups::CgroupRef) {
    for d in Cgroup::open(cg).dirs() {
        let _ = std::fs::write(d.join("freezer.state"), "THAWED");
        let _ = std::fs::write(d.join("cgroup.freeze"), "0");
    }
}
