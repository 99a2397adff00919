//! `kill [--all] ID [SIGNAL]`: to init, or to every process of the container's cgroup.

use super::args::{Global, KillArgs};
use super::state::{Root, Status};
use super::{OciError, Result};
use nix::sys::signal::{kill as send, Signal};
use nix::unistd::Pid;
use std::str::FromStr;

pub fn kill(g: &Global, a: KillArgs) -> Result<i32> {
    let root = Root::open(&g.root)?;
    let r = root
        .load(&a.id)?
        .ok_or_else(|| OciError::NotFound(a.id.clone()))?;
    let sig = parse_signal(&a.signal)?;
    if r.status() == Status::Stopped {
        return Err(OciError::other("container not running"));
    }
    if a.all {
        for pid in cgroup_pids(&r) {
            let _ = send(Pid::from_raw(pid), sig);
        }
        return Ok(0);
    }
    send(Pid::from_raw(r.pid), sig).map_err(|e| OciError::other(format!("kill: {e}")))?;
    Ok(0)
}

/// Every pid in the container's cgroup (all hierarchies, each once).
pub fn cgroup_pids(r: &super::state::Record) -> Vec<i32> {
    let mut pids = Vec::new();
    if let Some(cg) = &r.cgroup {
        for d in crate::runtime::cgroups::Cgroup::open(cg).dirs() {
            if let Ok(s) = std::fs::read_to_string(d.join("cgroup.procs")) {
                pids.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
    }
    if pids.is_empty() && r.alive() {
        pids.push(r.pid);
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// KILL, SIGKILL, kill or 9.
pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| OciError::other(format!("unknown signal \"{s}\"")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    Signal::from_str(&name).map_err(|_| OciError::other(format!("unknown signal \"{s}\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
    }
}
