//! Docker's resource flags (`-m`, `--cpus`, `--pids-limit`, ...) → OCI `linux.resources`.
//! Parsing and validation are pure; the caller supplies machine facts (online CPUs,
//! device numbers, swap accounting) so that bad values fail before anything is created.

use super::SpecError;
use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources, LinuxThrottleDevice,
    LinuxThrottleDeviceBuilder,
};
use serde::{Deserialize, Serialize};

/// The resource part of `docker inspect`'s HostConfig, as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceOptions {
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub nano_cpus: i64,
    pub cpu_shares: u64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: i64,
    pub blkio_weight: u16,
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    pub cgroup_parent: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
    #[serde(skip)]
    pub major: i64,
    #[serde(skip)]
    pub minor: i64,
}

fn invalid(msg: impl Into<String>) -> SpecError {
    SpecError::Invalid(msg.into())
}

/// `--cgroup-parent`: cgroup names below the hierarchy root (leading '/') or below nsbox's
/// own cgroup; never `.`/`..` or empty parts, checked before anything is created.
pub fn parse_cgroup_parent(s: &str) -> Result<String, SpecError> {
    crate::runtime::cgroups::validate_path(s).map_err(|e| invalid(e.to_string()))?;
    Ok(s.to_string())
}

/// Docker's RAMInBytes: "32m", "1.5g", "512k", "100" (bytes), binary units, optional "b".
pub fn parse_size(s: &str) -> Result<i64, SpecError> {
    let bad = || invalid(format!("invalid size: '{s}'"));
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix('b')
        .filter(|r| r.ends_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap_or(&t);
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let mult: f64 = match unit {
        "" | "b" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    if value < 0.0 || !value.is_finite() {
        return Err(bad());
    }
    Ok((value * mult) as i64)
}

/// `--cpus 1.5` → nano CPUs (Docker's NanoCPUs), checked against the machine's CPU count.
pub fn parse_cpus(s: &str, ncpu: usize) -> Result<i64, SpecError> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| invalid(format!("invalid argument \"{s}\" for \"--cpus\" flag")))?;
    if !v.is_finite() || v < 0.0 {
        return Err(invalid(format!(
            "invalid argument \"{s}\" for \"--cpus\" flag: range of CPUs is from 0.01 to {ncpu}.00"
        )));
    }
    let nano = (v * 1e9).round() as i64;
    if nano != 0 && (nano < 10_000_000 || nano > ncpu as i64 * 1_000_000_000) {
        return Err(invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    Ok(nano)
}

/// Parse a cpuset list ("0-2,4") into the numbers it names.
pub fn cpuset_members(list: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

/// `--cpuset-cpus`/`--cpuset-mems`: valid syntax and only members the machine has.
pub fn parse_cpuset(flag: &str, value: &str, available: &str) -> Result<String, SpecError> {
    let want = cpuset_members(value)
        .ok_or_else(|| invalid(format!("invalid value {value} for {flag}")))?;
    let have = cpuset_members(available).unwrap_or_default();
    if want.iter().any(|c| !have.contains(c)) {
        let what = if flag.ends_with("cpus") {
            "CPUs"
        } else {
            "memory nodes"
        };
        return Err(invalid(format!(
            "Requested {what} are not available - requested {value}, available: {}",
            available.trim()
        )));
    }
    Ok(value.trim().to_string())
}

/// `--device-read-bps /dev/sda:1mb` → (path, bytes per second).
pub fn parse_throttle(flag: &str, s: &str) -> Result<(String, u64), SpecError> {
    let (path, rate) = s
        .rsplit_once(':')
        .ok_or_else(|| invalid(format!("bad format for {flag}: {s} (expected PATH:RATE)")))?;
    if !path.starts_with("/dev/") {
        return Err(invalid(format!(
            "bad format for {flag}: {s} (the device must be a path under /dev)"
        )));
    }
    Ok((path.to_string(), parse_size(rate)? as u64))
}

/// Docker's cross-flag rules.
pub fn validate(o: &ResourceOptions, swap_accounting: bool) -> Result<(), SpecError> {
    const MIN_MEMORY: i64 = 6 * 1024 * 1024;
    if o.memory > 0 && o.memory < MIN_MEMORY {
        return Err(invalid("Minimum memory limit allowed is 6MB"));
    }
    if o.memory_swap != 0 {
        if o.memory == 0 && o.memory_swap > 0 {
            return Err(invalid(
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ));
        }
        if o.memory_swap > 0 && o.memory_swap < o.memory {
            return Err(invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        if !swap_accounting {
            return Err(invalid("Your kernel does not support swap limit capabilities or the cgroup is not mounted. --memory-swap cannot be used"));
        }
    }
    if o.memory_reservation > 0 && o.memory > 0 && o.memory_reservation > o.memory {
        return Err(invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if o.blkio_weight != 0 && !(10..=1000).contains(&o.blkio_weight) {
        return Err(invalid("Range of blkio weight is from 10 to 1000"));
    }
    Ok(())
}

/// The OCI resources for these options (None when nothing is limited).
pub fn to_linux(o: &ResourceOptions) -> LinuxResources {
    let mut r = LinuxResources::default();
    if o.memory != 0 || o.memory_swap != 0 || o.memory_reservation != 0 {
        let mut m = LinuxMemory::default();
        m.set_limit((o.memory != 0).then_some(o.memory));
        m.set_reservation((o.memory_reservation != 0).then_some(o.memory_reservation));
        m.set_swap((o.memory_swap != 0).then_some(o.memory_swap));
        r.set_memory(Some(m));
    }
    if o.nano_cpus != 0
        || o.cpu_shares != 0
        || !o.cpuset_cpus.is_empty()
        || !o.cpuset_mems.is_empty()
    {
        let mut c = LinuxCpu::default();
        if o.nano_cpus != 0 {
            // Docker: period 100ms, quota = cpus × period.
            c.set_period(Some(100_000));
            c.set_quota(Some(o.nano_cpus / 10_000));
        }
        c.set_shares((o.cpu_shares != 0).then_some(o.cpu_shares));
        c.set_cpus((!o.cpuset_cpus.is_empty()).then(|| o.cpuset_cpus.clone()));
        c.set_mems((!o.cpuset_mems.is_empty()).then(|| o.cpuset_mems.clone()));
        r.set_cpu(Some(c));
    }
    if o.pids_limit != 0 {
        let mut p = LinuxPids::default();
        p.set_limit(if o.pids_limit < 0 { -1 } else { o.pids_limit });
        r.set_pids(Some(p));
    }
    if o.blkio_weight != 0
        || !o.blkio_device_read_bps.is_empty()
        || !o.blkio_device_write_bps.is_empty()
    {
        let mut b = LinuxBlockIo::default();
        b.set_weight((o.blkio_weight != 0).then_some(o.blkio_weight));
        let devs = |list: &[ThrottleDevice]| -> Option<Vec<LinuxThrottleDevice>> {
            (!list.is_empty()).then(|| {
                list.iter()
                    .filter_map(|d| {
                        LinuxThrottleDeviceBuilder::default()
                            .major(d.major)
                            .minor(d.minor)
                            .rate(d.rate)
                            .build()
                            .ok()
                    })
                    .collect()
            })
        };
        b.set_throttle_read_bps_device(devs(&o.blkio_device_read_bps));
        b.set_throttle_write_bps_device(devs(&o.blkio_device_write_bps));
        r.set_block_io(Some(b));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_parent_stays_in_the_hierarchy() {
        for ok in ["a", "/a", "a/b", "/a/b/", "nsbox.slice"] {
            assert!(parse_cgroup_parent(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/",
            "..",
            "../../tmp/x",
            "a//b",
            "a/./b",
            "/a/..",
            "//a",
        ] {
            assert!(parse_cgroup_parent(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size("32m").unwrap(), 32 << 20);
        assert_eq!(parse_size("32MB").unwrap(), 32 << 20);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(parse_size("512k").unwrap(), 512 << 10);
        for bad in ["12q", "", "m", "-1m", "1.2.3m"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(parse_size("12q")
            .unwrap_err()
            .to_string()
            .contains("invalid size: '12q'"));
    }

    #[test]
    fn cpus_become_nano_cpus_within_the_machine() {
        assert_eq!(parse_cpus("0.2", 2).unwrap(), 200_000_000);
        assert_eq!(parse_cpus("2", 2).unwrap(), 2_000_000_000);
        assert!(parse_cpus("-1", 2).is_err());
        assert!(parse_cpus("3", 2)
            .unwrap_err()
            .to_string()
            .contains("only 2 CPUs"));
        assert!(parse_cpus("abc", 2).is_err());
        let mut o = ResourceOptions {
            nano_cpus: 200_000_000,
            ..Default::default()
        };
        let cpu = to_linux(&o).cpu().clone().unwrap();
        assert_eq!((cpu.quota(), cpu.period()), (Some(20_000), Some(100_000)));
        o.nano_cpus = 0;
        assert!(to_linux(&o).cpu().is_none());
    }

    #[test]
    fn cpusets_are_checked_against_the_machine() {
        assert_eq!(cpuset_members("0-2,4").unwrap(), vec![0, 1, 2, 4]);
        assert!(cpuset_members("2-1").is_none());
        assert_eq!(parse_cpuset("--cpuset-cpus", "1", "0-1").unwrap(), "1");
        let e = parse_cpuset("--cpuset-cpus", "0-5", "0-1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not available"), "{e}");
        assert!(parse_cpuset("--cpuset-cpus", "x", "0-1").is_err());
    }

    #[test]
    fn docker_cross_flag_rules() {
        let o = |memory, memory_swap| ResourceOptions {
            memory,
            memory_swap,
            ..Default::default()
        };
        assert!(validate(&o(1 << 20, 0), true).is_err(), "below 6MB");
        assert!(
            validate(&o(0, 64 << 20), true).is_err(),
            "swap without memory"
        );
        assert!(
            validate(&o(64 << 20, 32 << 20), true).is_err(),
            "swap below memory"
        );
        assert!(
            validate(&o(32 << 20, 64 << 20), false).is_err(),
            "no swap accounting"
        );
        assert!(validate(&o(32 << 20, -1), true).is_ok());
        assert!(validate(
            &ResourceOptions {
                blkio_weight: 5,
                ..Default::default()
            },
            true
        )
        .is_err());
        let r = to_linux(&o(32 << 20, -1));
        assert_eq!(r.memory().as_ref().unwrap().swap(), Some(-1));
    }

    #[test]
    fn throttle_and_pids() {
        assert_eq!(
            parse_throttle("--device-read-bps", "/dev/vda:1mb").unwrap(),
            ("/dev/vda".into(), 1 << 20)
        );
        assert!(parse_throttle("--device-read-bps", "vda:1mb").is_err());
        assert!(parse_throttle("--device-read-bps", "/dev/vda").is_err());
        let r = to_linux(&ResourceOptions {
            pids_limit: 10,
            ..Default::default()
        });
        assert_eq!(r.pids().as_ref().unwrap().limit(), 10);
        let r = to_linux(&ResourceOptions {
            pids_limit: -1,
            ..Default::default()
        });
        assert_eq!(r.pids().as_ref().unwrap().limit(), -1);
    }
}
