//! What the user asked for about confinement (`--privileged`, `--cap-add/--cap-drop`,
//! `--security-opt`, devices, sysctls, ulimits, groups): plain options, and the pure rules
//! Docker applies to them (capability arithmetic, sysctl and ulimit validation, device
//! cgroup rules). The CLI fills the options (cli/security.rs); `spec::build` reads them.

use super::SpecError;
use oci_spec::runtime::{
    Capability, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder,
    LinuxDeviceType, PosixRlimit, PosixRlimitBuilder, PosixRlimitType,
};
use std::path::PathBuf;

/// `--security-opt seccomp=…`: Docker's default profile, none, or a profile file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SeccompChoice {
    #[default]
    Default,
    Unconfined,
    /// A profile in Docker's/OCI's JSON format, already read by the CLI.
    Profile {
        path: PathBuf,
        json: String,
    },
}

/// A host device to create in the container (`--device`, or every host device with
/// `--privileged`), already looked up on the host by the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub container_path: PathBuf,
    /// 'c' or 'b'.
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    /// Permission bits of the host node.
    pub file_mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Cgroup access: some of "rwm".
    pub access: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOptions {
    /// `--privileged`: all capabilities, all devices, no seccomp, no masked paths, rw /sys.
    pub privileged: bool,
    /// `--cap-add` / `--cap-drop` (names as given: `NET_ADMIN`, `CAP_NET_ADMIN`, `ALL`).
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--security-opt seccomp=…`.
    pub seccomp: SeccompChoice,
    /// `--security-opt systempaths=unconfined`: no masked or read-only /proc paths.
    pub unconfined_paths: bool,
    /// `--device` (and with `--privileged`, every host device).
    pub devices: Vec<DeviceRequest>,
    /// `--device-cgroup-rule 'c 1:3 rwm'`.
    pub device_cgroup_rules: Vec<String>,
    /// `--group-add` (numeric gids).
    pub group_add: Vec<u32>,
    /// `--group-add` by name, resolved against the image's /etc/group at creation.
    pub group_add_names: Vec<String>,
    /// `--sysctl KEY=VALUE`, in command-line order.
    pub sysctls: Vec<(String, String)>,
    /// `--ulimit NAME=SOFT[:HARD]`.
    pub ulimits: Vec<String>,
    /// The host kernel's (major, minor), for profile rules with `minKernel`.
    pub kernel: Option<(u32, u32)>,
    /// What "all capabilities" means here: nsbox's own bounding set (a sandboxed nsbox
    /// cannot grant what it lacks; podman does the same). Empty: every known one.
    pub host_caps: Vec<Capability>,
}

/// Every capability this nsbox knows (what Docker's `--privileged` and `--cap-add ALL`
/// grant), from the kernel list the caps crate carries.
pub fn all_capabilities() -> Vec<Capability> {
    let mut v: Vec<Capability> = caps::all()
        .iter()
        .filter_map(|c| {
            c.to_string()
                .trim_start_matches("CAP_")
                .parse::<Capability>()
                .ok()
        })
        .collect();
    v.sort_by_key(|c| c.to_string());
    v
}

fn normalize_cap(name: &str) -> Result<Option<Capability>, SpecError> {
    let up = name.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Ok(None);
    }
    let bare = up.strip_prefix("CAP_").unwrap_or(&up);
    bare.parse::<Capability>()
        .map(Some)
        .map_err(|_| SpecError::Invalid(format!("unknown capability: \"CAP_{bare}\"")))
}

/// Docker's `TweakCapabilities`: privileged gets all; `--cap-add ALL` all but the dropped;
/// `--cap-drop ALL` only the added; otherwise the defaults minus drops plus adds.
pub fn capabilities(
    defaults: &[Capability],
    o: &SecurityOptions,
) -> Result<Vec<Capability>, SpecError> {
    let all = || {
        if o.host_caps.is_empty() {
            all_capabilities()
        } else {
            o.host_caps.clone()
        }
    };
    if o.privileged {
        return Ok(all());
    }
    let parse = |l: &[String]| -> Result<(bool, Vec<Capability>), SpecError> {
        let mut all = false;
        let mut caps = Vec::new();
        for n in l {
            match normalize_cap(n)? {
                None => all = true,
                Some(c) => caps.push(c),
            }
        }
        Ok((all, caps))
    };
    let (add_all, add) = parse(&o.cap_add)?;
    let (drop_all, drop) = parse(&o.cap_drop)?;
    let base: Vec<Capability> = if add_all {
        all()
    } else if drop_all {
        Vec::new()
    } else {
        defaults.to_vec()
    };
    let mut out: Vec<Capability> = base.into_iter().filter(|c| !drop.contains(c)).collect();
    if !add_all {
        for c in add {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// Docker's namespaced sysctls: the IPC ones, fs.mqueue.*, kernel.domainname (own UTS
/// namespace) and net.* (own network namespace only).
pub fn validate_sysctl(key: &str, own_netns: bool) -> Result<(), SpecError> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let bad_name = key.is_empty()
        || key
            .split(['.', '/'])
            .any(|c| c.is_empty() || c == ".." || c == ".");
    if bad_name {
        return Err(SpecError::Invalid(format!("sysctl '{key}' is not allowed")));
    }
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") || key == "kernel.domainname" {
        return Ok(());
    }
    if key.starts_with("net.") {
        if own_netns {
            return Ok(());
        }
        return Err(SpecError::Invalid(format!(
            "sysctl \"{key}\" not allowed in host network namespace"
        )));
    }
    Err(SpecError::Invalid(format!(
        "sysctl '{key}' is not allowed: it is not namespaced"
    )))
}

/// `--ulimit nofile=1024:2048` (or one value for both; -1 is unlimited).
pub fn parse_ulimit(s: &str) -> Result<PosixRlimit, SpecError> {
    let bad = |why: &str| SpecError::Invalid(format!("invalid ulimit argument: {s}: {why}"));
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=SOFT[:HARD]"))?;
    let typ: PosixRlimitType = format!("RLIMIT_{}", name.trim().to_ascii_uppercase())
        .parse()
        .map_err(|_| bad("unknown limit"))?;
    let num = |v: &str| -> Result<u64, SpecError> {
        match v.trim() {
            "-1" | "unlimited" => Ok(u64::MAX),
            t => t.parse().map_err(|_| bad("not a number")),
        }
    };
    let (soft, hard) = match values.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(values)?, num(values)?),
    };
    if soft > hard {
        return Err(SpecError::Invalid(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    Ok(PosixRlimitBuilder::default()
        .typ(typ)
        .soft(soft)
        .hard(hard)
        .build()?)
}

/// `--device-cgroup-rule 'c 1:3 rwm'` (`a`, `*` wildcards as in devices.allow).
pub fn parse_device_cgroup_rule(s: &str) -> Result<LinuxDeviceCgroup, SpecError> {
    let bad = || SpecError::Invalid(format!("invalid device cgroup format '{s}'"));
    let mut parts = s.split_whitespace();
    let (Some(t), Some(nums), Some(access), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let typ = match t {
        "a" => LinuxDeviceType::A,
        "c" => LinuxDeviceType::C,
        "b" => LinuxDeviceType::B,
        _ => return Err(bad()),
    };
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad());
    }
    let (ma, mi) = nums.split_once(':').ok_or_else(bad)?;
    let num = |v: &str| -> Result<Option<i64>, SpecError> {
        if v == "*" {
            Ok(None)
        } else {
            v.parse().map(Some).map_err(|_| bad())
        }
    };
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(typ)
        .access(access);
    if let Some(m) = num(ma)? {
        b = b.major(m);
    }
    if let Some(m) = num(mi)? {
        b = b.minor(m);
    }
    Ok(b.build()?)
}

/// The OCI device node and its cgroup rule for one device request.
pub fn device(d: &DeviceRequest) -> Result<(LinuxDevice, LinuxDeviceCgroup), SpecError> {
    let typ = match d.kind {
        'b' => LinuxDeviceType::B,
        _ => LinuxDeviceType::C,
    };
    let node = LinuxDeviceBuilder::default()
        .path(d.container_path.clone())
        .typ(typ)
        .major(d.major)
        .minor(d.minor)
        .file_mode(d.file_mode)
        .uid(d.uid)
        .gid(d.gid)
        .build()?;
    let rule = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(typ)
        .major(d.major)
        .minor(d.minor)
        .access(d.access.clone())
        .build()?;
    Ok((node, rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::default_capabilities;

    fn opts(add: &[&str], drop: &[&str]) -> SecurityOptions {
        SecurityOptions {
            cap_add: add.iter().map(|s| s.to_string()).collect(),
            cap_drop: drop.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn capability_arithmetic_is_dockers() {
        let d = default_capabilities();
        let c = capabilities(&d, &opts(&["net_admin"], &["CAP_CHOWN"])).unwrap();
        assert!(c.contains(&Capability::NetAdmin) && !c.contains(&Capability::Chown));
        assert_eq!(c.len(), 14);
        assert!(capabilities(&d, &opts(&[], &["ALL"])).unwrap().is_empty());
        assert_eq!(
            capabilities(&d, &opts(&["KILL"], &["all"])).unwrap(),
            [Capability::Kill]
        );
        let all = capabilities(&d, &opts(&["ALL"], &["SYS_ADMIN"])).unwrap();
        assert!(all.len() > 35 && !all.contains(&Capability::SysAdmin));
        let p = SecurityOptions {
            privileged: true,
            cap_drop: vec!["ALL".into()],
            ..Default::default()
        };
        assert!(capabilities(&d, &p)
            .unwrap()
            .contains(&Capability::SysAdmin));
        let err = capabilities(&d, &opts(&["FOO"], &[])).unwrap_err();
        assert_eq!(err.to_string(), "unknown capability: \"CAP_FOO\"");
    }

    #[test]
    fn sysctls_must_be_namespaced() {
        for ok in [
            "kernel.shmmax",
            "fs.mqueue.msg_max",
            "net.ipv4.ip_forward",
            "kernel.sem",
        ] {
            validate_sysctl(ok, true).unwrap();
        }
        assert!(validate_sysctl("net.ipv4.ip_forward", false).is_err());
        assert!(validate_sysctl("kernel.shmmax", false).is_ok());
        for bad in ["kernel.hostname", "vm.swappiness", "net..x", "net.../x", ""] {
            assert!(validate_sysctl(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn ulimits_parse_like_docker() {
        let r = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!(
            (r.typ(), r.soft(), r.hard()),
            (PosixRlimitType::RlimitNofile, 1024, 2048)
        );
        let r = parse_ulimit("core=-1").unwrap();
        assert_eq!((r.soft(), r.hard()), (u64::MAX, u64::MAX));
        assert!(parse_ulimit("nofile=10:5").is_err());
        assert!(parse_ulimit("bogus=1").is_err());
        assert!(parse_ulimit("nofile").is_err());
    }

    #[test]
    fn device_cgroup_rules_parse() {
        let r = parse_device_cgroup_rule("c 1:3 mr").unwrap();
        assert_eq!(r.to_string(), "c 1:3 mr");
        let r = parse_device_cgroup_rule("b *:* rwm").unwrap();
        assert_eq!(r.to_string(), "b *:* rwm");
        for bad in ["x 1:3 r", "c 1 r", "c 1:3 q", "c 1:3", "c a:3 r"] {
            assert!(parse_device_cgroup_rule(bad).is_err(), "{bad}");
        }
    }
}
