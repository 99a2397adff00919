//! OCI `linux.resources` → cgroups-rs resources, with the conversions each cgroup
//! version needs (runc's rules): cpu.shares → cpu.weight on v2, and OCI's memory+swap
//! total → v2's swap-only memory.swap.max.

use cgroups_rs::fs::devices::{DevicePermissions, DeviceType};
use cgroups_rs::fs::{
    BlkIoDeviceResource, BlkIoDeviceThrottleResource, DeviceResource, MaxValue, Resources,
};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

/// runc's mapping of cpu.shares [2, 262144] onto cpu.weight [1, 10000].
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// OCI memory.swap is memory+swap (v1's memsw); v2's memory.swap.max is swap alone.
pub fn swap_for_v2(memory: i64, memsw: i64) -> i64 {
    match (memory, memsw) {
        (_, -1) => -1,
        (m, s) if m > 0 && s >= m => s - m,
        _ => 0,
    }
}

pub fn convert(r: &LinuxResources, v2: bool) -> Resources {
    let mut out = Resources::default();
    if let Some(m) = r.memory() {
        out.memory.memory_hard_limit = m.limit();
        out.memory.memory_soft_limit = m.reservation();
        out.memory.swappiness = m.swappiness();
        out.memory.memory_swap_limit = match (m.swap(), v2) {
            (Some(s), true) => Some(swap_for_v2(m.limit().unwrap_or(0), s)),
            (s, _) => s,
        };
    }
    if let Some(c) = r.cpu() {
        out.cpu.shares = c.shares().map(|s| if v2 { shares_to_weight(s) } else { s });
        out.cpu.quota = c.quota();
        out.cpu.period = c.period();
        out.cpu.cpus = c.cpus().clone();
        out.cpu.mems = c.mems().clone();
    }
    if let Some(p) = r.pids() {
        let limit = p.limit();
        out.pid.maximum_number_of_processes = Some(if limit > 0 {
            MaxValue::Value(limit)
        } else {
            MaxValue::Max
        });
    }
    if let Some(b) = r.block_io() {
        out.blkio.weight = b.weight();
        out.blkio.leaf_weight = b.leaf_weight();
        for d in b.weight_device().iter().flatten() {
            out.blkio.weight_device.push(BlkIoDeviceResource {
                major: d.major() as u64,
                minor: d.minor() as u64,
                weight: d.weight(),
                leaf_weight: d.leaf_weight(),
            });
        }
        let throttle = |list: &Option<Vec<oci_spec::runtime::LinuxThrottleDevice>>| -> Vec<BlkIoDeviceThrottleResource> {
            list.iter()
                .flatten()
                .map(|d| BlkIoDeviceThrottleResource { major: d.major() as u64, minor: d.minor() as u64, rate: d.rate() })
                .collect()
        };
        out.blkio.throttle_read_bps_device = throttle(b.throttle_read_bps_device());
        out.blkio.throttle_write_bps_device = throttle(b.throttle_write_bps_device());
        out.blkio.throttle_read_iops_device = throttle(b.throttle_read_iops_device());
        out.blkio.throttle_write_iops_device = throttle(b.throttle_write_iops_device());
    }
    // v1's devices controller; v2 filters devices with eBPF, which is not done here.
    // Like runc, the nodes the runtime itself creates in /dev are always allowed, after
    // the spec's own rules (which usually start with "deny all").
    if !v2 {
        out.devices.devices = r.devices().iter().flatten().map(device_rule).collect();
        for (major, minor) in RUNTIME_DEVICES {
            out.devices.devices.push(DeviceResource {
                allow: true,
                devtype: DeviceType::Char,
                major,
                minor,
                access: vec![
                    DevicePermissions::Read,
                    DevicePermissions::Write,
                    DevicePermissions::MkNod,
                ],
            });
        }
    }
    out
}

/// null, zero, full, random, urandom, tty, console, ptmx, and every pty slave (136:*).
pub(super) const RUNTIME_DEVICES: [(i64, i64); 9] = [
    (1, 3),
    (1, 5),
    (1, 7),
    (1, 8),
    (1, 9),
    (5, 0),
    (5, 1),
    (5, 2),
    (136, -1),
];

fn device_rule(d: &LinuxDeviceCgroup) -> DeviceResource {
    let devtype = match d.typ() {
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => DeviceType::Char,
        Some(LinuxDeviceType::B) => DeviceType::Block,
        _ => DeviceType::All,
    };
    let access = d
        .access()
        .as_deref()
        .unwrap_or("rwm")
        .chars()
        .filter_map(|c| match c {
            'r' => Some(DevicePermissions::Read),
            'w' => Some(DevicePermissions::Write),
            'm' => Some(DevicePermissions::MkNod),
            _ => None,
        })
        .collect();
    DeviceResource {
        allow: d.allow(),
        devtype,
        major: d.major().unwrap_or(-1),
        minor: d.minor().unwrap_or(-1),
        access,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_onto_weight_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10000);
        assert_eq!(shares_to_weight(0), 0);
    }

    #[test]
    fn swap_total_becomes_swap_only_on_v2() {
        assert_eq!(swap_for_v2(32 << 20, 64 << 20), 32 << 20);
        assert_eq!(swap_for_v2(32 << 20, 32 << 20), 0);
        assert_eq!(swap_for_v2(32 << 20, -1), -1);
    }
}
