//! Docker's defaults: mounts, capabilities, masked and read-only paths, device cgroup rules,
//! rlimits. Values follow moby's `oci/defaults.go` and `daemon/oci_linux.go`.

use oci_spec::runtime::{
    Capability, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType, Mount,
};
use std::path::PathBuf;

use super::SpecError;

/// PATH Docker puts in the environment when the image sets none.
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's 14 default capabilities, in Docker's order.
pub fn default_capabilities() -> Vec<Capability> {
    vec![
        Capability::Chown,
        Capability::DacOverride,
        Capability::Fsetid,
        Capability::Fowner,
        Capability::Mknod,
        Capability::NetRaw,
        Capability::Setgid,
        Capability::Setuid,
        Capability::Setfcap,
        Capability::Setpcap,
        Capability::NetBindService,
        Capability::SysChroot,
        Capability::Kill,
        Capability::AuditWrite,
    ]
}

/// Paths masked (bind of /dev/null, or an empty ro tmpfs for directories).
pub fn masked_paths() -> Vec<String> {
    [
        "/proc/asound",
        "/proc/acpi",
        "/proc/interrupts",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Paths remounted read-only.
pub fn readonly_paths() -> Vec<String> {
    [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(dest));
    m.set_typ(Some(typ.to_string()));
    m.set_source(Some(PathBuf::from(source)));
    m.set_options(Some(options.iter().map(|s| s.to_string()).collect()));
    m
}

/// Docker's default filesystem mounts, in order. Privileged: /sys and its cgroup mount
/// are read-write.
pub fn default_mounts(privileged: bool) -> Vec<Mount> {
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        // "cgroup": the runtime picks cgroup v1 or cgroup2 for the host.
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
        ),
    ];
    if privileged {
        for m in mounts.iter_mut().filter(|m| {
            m.destination() == std::path::Path::new("/sys")
                || m.destination() == std::path::Path::new("/sys/fs/cgroup")
        }) {
            let opts: Vec<String> = m
                .options()
                .iter()
                .flatten()
                .filter(|o| *o != "ro")
                .cloned()
                .collect();
            m.set_options(Some(opts));
        }
    }
    mounts
}

/// A bind mount of a host file the way Docker mounts /etc/{resolv.conf,hostname,hosts}:
/// `rbind`, `ro` when the root filesystem is read-only, `rprivate`.
pub fn etc_bind(source: PathBuf, dest: &str, read_only: bool) -> Mount {
    let mut options = vec!["rbind".to_string()];
    if read_only {
        options.push("ro".to_string());
    }
    options.push("rprivate".to_string());
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(dest));
    m.set_typ(Some("bind".to_string()));
    m.set_source(Some(source));
    m.set_options(Some(options));
    m
}

fn device_rule(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Result<LinuxDeviceCgroup, SpecError> {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .typ(typ)
        .access(access);
    if let Some(major) = major {
        b = b.major(major);
    }
    if let Some(minor) = minor {
        b = b.minor(minor);
    }
    b.build().map_err(SpecError::from)
}

/// Device cgroup rules: deny everything, then allow mknod of any device (Docker grants
/// CAP_MKNOD) and use of the minimal /dev: null, zero, full, random, urandom, tty,
/// console, ptmx and the pts slaves.
pub fn device_cgroup_rules() -> Result<Vec<LinuxDeviceCgroup>, SpecError> {
    use LinuxDeviceType::{A, B, C};
    let mut rules = vec![
        device_rule(false, A, None, None, "rwm")?,
        device_rule(true, C, None, None, "m")?,
        device_rule(true, B, None, None, "m")?,
    ];
    for (major, minor) in [
        (1, Some(3)), // null
        (1, Some(5)), // zero
        (1, Some(7)), // full
        (1, Some(8)), // random
        (1, Some(9)), // urandom
        (5, Some(0)), // tty
        (5, Some(1)), // console
        (5, Some(2)), // ptmx
        (136, None),  // pts/*
    ] {
        rules.push(device_rule(true, C, Some(major), minor, "rwm")?);
    }
    Ok(rules)
}

/// `--privileged`: every device, every access.
pub fn allow_all_devices() -> Result<Vec<LinuxDeviceCgroup>, SpecError> {
    Ok(vec![device_rule(
        true,
        LinuxDeviceType::A,
        None,
        None,
        "rwm",
    )?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourteen_default_capabilities_without_sys_admin() {
        let caps = default_capabilities();
        assert_eq!(caps.len(), 14);
        let set: std::collections::HashSet<_> = caps.iter().collect();
        assert_eq!(set.len(), 14);
        assert!(!caps.contains(&Capability::SysAdmin));
        assert!(caps.contains(&Capability::NetBindService));
        assert!(caps.contains(&Capability::AuditWrite));
    }

    #[test]
    fn device_rules_deny_all_first_then_allow() {
        let rules = device_cgroup_rules().unwrap();
        let text: Vec<String> = rules
            .iter()
            .map(|r| format!("{} {}", if r.allow() { "allow" } else { "deny" }, r))
            .collect();
        assert_eq!(text[0], "deny a *:* rwm");
        for want in [
            "allow c *:* m",
            "allow b *:* m",
            "allow c 1:3 rwm",
            "allow c 1:5 rwm",
            "allow c 1:7 rwm",
            "allow c 1:8 rwm",
            "allow c 1:9 rwm",
            "allow c 5:0 rwm",
            "allow c 5:1 rwm",
            "allow c 5:2 rwm",
            "allow c 136:* rwm",
        ] {
            assert!(text.iter().any(|t| t == want), "missing {want}: {text:?}");
        }
    }

    #[test]
    fn etc_bind_is_ro_only_with_read_only_root() {
        let rw = etc_bind("/h".into(), "/etc/hosts", false);
        assert_eq!(
            rw.options().as_deref(),
            Some(&["rbind".to_string(), "rprivate".to_string()][..])
        );
        let ro = etc_bind("/h".into(), "/etc/hosts", true);
        assert_eq!(ro.options().as_ref().map(Vec::len), Some(3));
        assert!(ro.options().iter().flatten().any(|o| o == "ro"));
    }
}
