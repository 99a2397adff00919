//! What `--explain` says about the cgroup: which files the limits went to, with the
//! values the kernel now holds there (read back, so rounding — v1 rounds memory limits
//! to pages — shows as it really is).

use super::{resources, Cgroup, Mode};
use oci_spec::runtime::LinuxResources;
use std::fs;

/// The cgroup files the limits in `r` are written to (cgroups-rs' choice of file per
/// version), in a stable order.
pub fn written_files(r: &LinuxResources, v2: bool) -> Vec<&'static str> {
    let pick = |v1: &'static str, v2f: &'static str| if v2 { v2f } else { v1 };
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        if m.limit().is_some() {
            out.push(pick("memory.limit_in_bytes", "memory.max"));
        }
        if m.reservation().is_some() {
            out.push(pick("memory.soft_limit_in_bytes", "memory.low"));
        }
        if m.swap().is_some() {
            out.push(pick("memory.memsw.limit_in_bytes", "memory.swap.max"));
        }
        if m.swappiness().is_some() && !v2 {
            out.push("memory.swappiness");
        }
    }
    if let Some(c) = r.cpu() {
        if c.shares().is_some() {
            out.push(pick("cpu.shares", "cpu.weight"));
        }
        if c.quota().is_some() || c.period().is_some() {
            if v2 {
                out.push("cpu.max");
            } else {
                out.push("cpu.cfs_quota_us");
                out.push("cpu.cfs_period_us");
            }
        }
        if c.cpus().is_some() {
            out.push("cpuset.cpus");
        }
        if c.mems().is_some() {
            out.push("cpuset.mems");
        }
    }
    if r.pids().is_some() {
        out.push("pids.max");
    }
    if let Some(b) = r.block_io() {
        if b.weight().is_some() {
            out.push(pick("blkio.weight", "io.bfq.weight"));
        }
        let has = |l: &Option<Vec<_>>| l.as_ref().is_some_and(|v: &Vec<_>| !v.is_empty());
        if has(b.throttle_read_bps_device()) {
            out.push(pick("blkio.throttle.read_bps_device", "io.max"));
        }
        if has(b.throttle_write_bps_device()) {
            out.push(pick("blkio.throttle.write_bps_device", "io.max"));
        }
    }
    out.dedup();
    out
}

/// `memory.limit_in_bytes=67108864 pids.max=7; devices: 10 allow/deny rules`.
pub fn limits_detail(cg: &Cgroup, r: Option<&LinuxResources>) -> String {
    let Some(r) = r else {
        return "no limits (the cgroup only accounts)".to_string();
    };
    let v2 = cg.reference.mode == Mode::Unified;
    let mut parts: Vec<String> = written_files(r, v2)
        .into_iter()
        .map(|f| format!("{f}={}", read_back(cg, f)))
        .collect();
    if parts.is_empty() {
        parts.push("no limits (the cgroup only accounts)".to_string());
    }
    let mut out = parts.join(" ");
    if !v2 {
        let rules = resources::convert(r, false).devices.devices.len();
        out.push_str(&format!(
            "; devices.deny/devices.allow: {rules} rules (the spec's, then the runtime's /dev nodes)"
        ));
    }
    out
}

/// The file's content now, one line; "?" if it cannot be read.
fn read_back(cg: &Cgroup, file: &str) -> String {
    let dir = if cg.reference.mode == Mode::Unified {
        cg.dirs().into_iter().next()
    } else {
        file.split('.').next().and_then(|c| cg.dir_of(c))
    };
    dir.and_then(|d| fs::read_to_string(d.join(file)).ok())
        .map(|t| {
            let t = t.trim().replace('\n', ",");
            if t.contains(' ') {
                format!("\"{t}\"")
            } else {
                t
            }
        })
        .unwrap_or_else(|| "?".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };

    #[test]
    fn limits_map_to_the_files_of_each_version() {
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .quota(20_000i64)
                    .period(100_000u64)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(7).build().unwrap())
            .build()
            .unwrap();
        assert_eq!(
            written_files(&r, false),
            [
                "memory.limit_in_bytes",
                "cpu.cfs_quota_us",
                "cpu.cfs_period_us",
                "pids.max"
            ]
        );
        assert_eq!(
            written_files(&r, true),
            ["memory.max", "cpu.max", "pids.max"]
        );
    }
}
