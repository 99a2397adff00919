//! Docker's resource flags, shared by `run` and `update`, and the machine facts needed
//! to validate them before anything is created.

use crate::runtime::cgroups::mode::{self, Mode};
use crate::spec::resources::{self as res, ResourceOptions, ThrottleDevice};
use anyhow::{Context, Result};
use clap::Args;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

#[derive(Debug, Args, Default, Clone)]
pub struct ResourceArgs {
    /// Memory limit (e.g. 32m, 1g).
    #[arg(short = 'm', long = "memory")]
    pub memory: Option<String>,
    /// Memory + swap limit; -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long = "cpus", allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes in which to allow execution.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Tune the container's pids limit (-1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10 to 1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Limit read rate from a device (PATH:RATE, e.g. /dev/vda:1mb).
    #[arg(long = "device-read-bps")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate to a device.
    #[arg(long = "device-write-bps")]
    pub device_write_bps: Vec<String>,
}

impl ResourceArgs {
    pub fn is_empty(&self) -> bool {
        self.memory.is_none()
            && self.memory_swap.is_none()
            && self.memory_reservation.is_none()
            && self.cpus.is_none()
            && self.cpu_shares.is_none()
            && self.cpuset_cpus.is_none()
            && self.cpuset_mems.is_none()
            && self.pids_limit.is_none()
            && self.blkio_weight.is_none()
            && self.device_read_bps.is_empty()
            && self.device_write_bps.is_empty()
    }

    /// Parse and validate onto `base` (empty for `run`, the current settings for `update`).
    pub fn apply_to(&self, base: &ResourceOptions) -> Result<ResourceOptions> {
        let mut o = base.clone();
        if let Some(m) = &self.memory {
            o.memory = res::parse_size(m)?;
        }
        if let Some(s) = &self.memory_swap {
            o.memory_swap = if s.trim() == "-1" {
                -1
            } else {
                res::parse_size(s)?
            };
        }
        if let Some(r) = &self.memory_reservation {
            o.memory_reservation = res::parse_size(r)?;
        }
        if let Some(c) = &self.cpus {
            o.nano_cpus = res::parse_cpus(c, online_cpus().len())?;
        }
        if let Some(s) = self.cpu_shares {
            o.cpu_shares = s;
        }
        if let Some(c) = &self.cpuset_cpus {
            o.cpuset_cpus = res::parse_cpuset(
                "--cpuset-cpus",
                c,
                &read_list("/sys/devices/system/cpu/online", "0"),
            )?;
        }
        if let Some(m) = &self.cpuset_mems {
            o.cpuset_mems = res::parse_cpuset(
                "--cpuset-mems",
                m,
                &read_list("/sys/devices/system/node/online", "0"),
            )?;
        }
        if let Some(p) = self.pids_limit {
            o.pids_limit = p;
        }
        if let Some(w) = self.blkio_weight {
            o.blkio_weight = w;
        }
        for (flag, list, out) in [
            (
                "--device-read-bps",
                &self.device_read_bps,
                &mut o.blkio_device_read_bps,
            ),
            (
                "--device-write-bps",
                &self.device_write_bps,
                &mut o.blkio_device_write_bps,
            ),
        ] {
            for spec in list {
                let (path, rate) = res::parse_throttle(flag, spec)?;
                let (major, minor) =
                    block_device_numbers(&path).with_context(|| format!("{flag} {spec}"))?;
                out.push(ThrottleDevice {
                    path,
                    rate,
                    major,
                    minor,
                });
            }
        }
        res::validate(&o, swap_accounting())?;
        Ok(o)
    }
}

/// The CPUs the machine has online.
pub fn online_cpus() -> Vec<u32> {
    res::cpuset_members(&read_list("/sys/devices/system/cpu/online", "0"))
        .unwrap_or_else(|| vec![0])
}

fn read_list(path: &str, default: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| default.to_string())
}

fn block_device_numbers(path: &str) -> Result<(i64, i64)> {
    let md = std::fs::metadata(path).with_context(|| format!("no such device {path}"))?;
    anyhow::ensure!(
        md.file_type().is_block_device(),
        "{path} is not a block device"
    );
    let rdev = md.rdev();
    Ok((
        nix::sys::stat::major(rdev) as i64,
        nix::sys::stat::minor(rdev) as i64,
    ))
}

/// Whether the kernel accounts swap per cgroup (memsw on v1, memory.swap.* on v2).
pub fn swap_accounting() -> bool {
    let own = mode::own_cgroups();
    match mode::detect() {
        Mode::Unified => {
            let dir = Path::new(mode::ROOT)
                .join(own.get("").map(|p| p.trim_start_matches('/')).unwrap_or(""));
            // The root cgroup has no memory.* files; look at our own or any child.
            dir.join("memory.swap.max").exists()
                || std::fs::read_dir(&dir)
                    .map(|d| {
                        d.flatten()
                            .any(|e| e.path().join("memory.swap.max").exists())
                    })
                    .unwrap_or(false)
        }
        _ => {
            let rel = own
                .get("memory")
                .map(|p| p.trim_start_matches('/'))
                .unwrap_or("");
            Path::new(mode::ROOT)
                .join("memory")
                .join(rel)
                .join("memory.memsw.limit_in_bytes")
                .exists()
        }
    }
}
