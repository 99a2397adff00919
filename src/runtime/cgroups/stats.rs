//! What `nsbox stats` shows, read straight from the container's cgroup files.
//!
//! | what              | v2 (unified)                          | v1                                             |
//! |-------------------|---------------------------------------|------------------------------------------------|
//! | CPU time          | cpu.stat `usage_usec`                 | cpuacct.usage (ns)                             |
//! | CFS throttling    | cpu.stat `nr_throttled`, `throttled_usec` | cpu.stat `nr_throttled`, `throttled_time` (ns) |
//! | memory usage      | memory.current − `inactive_file`      | memory.usage_in_bytes − `total_inactive_file`  |
//! | memory limit      | memory.max (`max` = none)             | memory.limit_in_bytes (huge = none)            |
//! | pids              | pids.current, pids.max                | pids.current, pids.max                         |
//!
//! Like Docker, usage excludes the inactive page cache, and "no limit" is shown as the
//! host's total memory. A file that cannot be read counts as 0 (the controller may not
//! be enabled, or the cgroup is gone).

use super::{Cgroup, Mode};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Total CPU time used by the cgroup, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// CFS enforcement periods that elapsed while the cgroup was runnable.
    pub nr_periods: u64,
    /// Periods in which the cgroup used up its quota and was throttled.
    pub nr_throttled: u64,
    /// Total time the cgroup was throttled, in nanoseconds.
    pub throttled_ns: u64,
    /// Memory in use, without the inactive file cache (as `docker stats`).
    pub mem_usage: u64,
    /// The memory limit; the host's total memory when there is none.
    pub mem_limit: u64,
    pub pids_current: u64,
    /// None: no limit.
    pub pids_limit: Option<u64>,
    pub oom_kills: u64,
}

/// Read the cgroup's counters now.
pub fn read(cg: &Cgroup) -> Stats {
    let host_mem = host_mem_total();
    let mut s = Stats {
        oom_kills: cg.oom_kills(),
        ..Default::default()
    };
    let (cpu, cpuacct, memory, pids) = if cg.reference.mode == Mode::Unified {
        let d = cg.dirs().into_iter().next();
        (d.clone(), d.clone(), d.clone(), d)
    } else {
        (
            cg.dir_of("cpu"),
            cg.dir_of("cpuacct"),
            cg.dir_of("memory"),
            cg.dir_of("pids"),
        )
    };
    let v2 = cg.reference.mode == Mode::Unified;
    if let Some(d) = &cpu {
        let stat = keyed(&d.join("cpu.stat"));
        let get = |k: &str| stat.get(k).copied().unwrap_or(0);
        s.nr_periods = get("nr_periods");
        s.nr_throttled = get("nr_throttled");
        if v2 {
            s.cpu_usage_ns = get("usage_usec").saturating_mul(1000);
            s.throttled_ns = get("throttled_usec").saturating_mul(1000);
        } else {
            s.throttled_ns = get("throttled_time");
        }
    }
    if !v2 {
        if let Some(d) = &cpuacct {
            s.cpu_usage_ns = number(&d.join("cpuacct.usage")).unwrap_or(0);
        }
    }
    if let Some(d) = &memory {
        let (usage, limit, inactive) = if v2 {
            (
                number(&d.join("memory.current")),
                number(&d.join("memory.max")),
                "inactive_file",
            )
        } else {
            (
                number(&d.join("memory.usage_in_bytes")),
                number(&d.join("memory.limit_in_bytes")),
                "total_inactive_file",
            )
        };
        let usage = usage.unwrap_or(0);
        let cache = keyed(&d.join("memory.stat"))
            .get(inactive)
            .copied()
            .unwrap_or(0);
        s.mem_usage = if cache < usage { usage - cache } else { usage };
        s.mem_limit = effective_limit(limit, host_mem);
    } else {
        s.mem_limit = host_mem;
    }
    if let Some(d) = &pids {
        s.pids_current = number(&d.join("pids.current")).unwrap_or(0);
        s.pids_limit = number(&d.join("pids.max"));
    }
    s
}

/// A limit of "max" (None) or above the machine's memory (v1's page-rounded i64::MAX)
/// means no limit: show the host's memory, as Docker does.
fn effective_limit(limit: Option<u64>, host_mem: u64) -> u64 {
    match limit {
        Some(l) if host_mem == 0 || l < host_mem => l,
        _ => host_mem,
    }
}

impl Cgroup {
    /// v1: this cgroup's directory in `controller`'s hierarchy, if it is mounted.
    pub fn dir_of(&self, controller: &str) -> Option<PathBuf> {
        self.cg
            .subsystems()
            .iter()
            .find(|s| s.controller_name() == controller)
            .map(|s| s.to_controller().path().to_path_buf())
    }
}

/// A file holding one number; "max" and unreadable files are None.
fn number(path: &Path) -> Option<u64> {
    parse_number(&fs::read_to_string(path).ok()?)
}

fn parse_number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// "key value" lines (cpu.stat, memory.stat).
fn keyed(path: &Path) -> HashMap<String, u64> {
    parse_keyed(&fs::read_to_string(path).unwrap_or_default())
}

fn parse_keyed(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// MemTotal from /proc/meminfo, in bytes (0 if unreadable).
pub fn host_mem_total() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_meminfo_total(&t))
        .unwrap_or(0)
}

fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cgroup_files() {
        let s = parse_keyed("usage_usec 1500\nnr_periods 10\nnr_throttled 4\nthrottled_usec 77\n");
        assert_eq!(s["usage_usec"], 1500);
        assert_eq!(s["nr_throttled"], 4);
        assert_eq!(parse_number("max\n"), None);
        assert_eq!(parse_number("42\n"), Some(42));
        assert_eq!(
            parse_meminfo_total("MemTotal:        2000 kB\nMemFree: 1 kB\n"),
            Some(2000 * 1024)
        );
    }

    #[test]
    fn no_limit_shows_host_memory() {
        assert_eq!(effective_limit(None, 1000), 1000);
        assert_eq!(effective_limit(Some(9_223_372_036_854_771_712), 1000), 1000);
        assert_eq!(effective_limit(Some(64 << 20), 1 << 30), 64 << 20);
    }
}
