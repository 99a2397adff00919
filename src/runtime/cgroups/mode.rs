//! Which cgroup layout the host has, and where the caller itself sits in it.

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, TMPFS_MAGIC};
use std::collections::HashMap;
use std::fmt;

pub const ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Pure cgroup v2: one hierarchy at /sys/fs/cgroup.
    Unified,
    /// v1 controllers, plus a cgroup2 mount at /sys/fs/cgroup/unified (usually empty).
    Hybrid,
    /// v1 only.
    Legacy,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Unified => "v2 (unified)",
            Mode::Hybrid => "v1 (hybrid)",
            Mode::Legacy => "v1 (legacy)",
        })
    }
}

/// Detect the host's layout the way youki and runc do: by filesystem magic.
pub fn detect() -> Mode {
    match statfs(ROOT).map(|s| s.filesystem_type()) {
        Ok(t) if t == CGROUP2_SUPER_MAGIC => Mode::Unified,
        Ok(t) if t == TMPFS_MAGIC => {
            let unified = statfs("/sys/fs/cgroup/unified")
                .map(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC);
            if unified.unwrap_or(false) {
                Mode::Hybrid
            } else {
                Mode::Legacy
            }
        }
        _ => Mode::Legacy,
    }
}

/// The caller's own cgroup per v1 controller ("memory" → "/a/b"), and "" → v2 path,
/// from /proc/self/cgroup. Named hierarchies keep their "name=" prefix.
pub fn own_cgroups() -> HashMap<String, String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    parse_proc_cgroup(&text)
}

pub fn parse_proc_cgroup(text: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            map.insert(String::new(), path.to_string());
        } else {
            for c in ctrls.split(',') {
                map.insert(c.to_string(), path.to_string());
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_cgroup_parses_v1_v2_and_named() {
        let m = parse_proc_cgroup("9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/test\n");
        assert_eq!(m["memory"], "/a/b");
        assert_eq!(m["cpuacct"], "/c");
        assert_eq!(m["name=systemd"], "/");
        assert_eq!(m[""], "/test");
    }

    #[test]
    fn this_host_has_a_mode() {
        // Whatever it is, detection must not panic and must agree with /proc/self/cgroup.
        let mode = detect();
        let own = own_cgroups();
        if mode == Mode::Unified {
            assert!(own.contains_key(""));
        }
    }
}
