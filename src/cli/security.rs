//! Docker's confinement flags for `run`: `--privileged`, `--cap-add/--cap-drop`,
//! `--security-opt`, `--device`, `--device-cgroup-rule`, `--group-add`, `--sysctl`,
//! `--ulimit`. Reads what they name on the host (profile files, device nodes) and hands
//! plain [`SecurityOptions`] to the spec.

use super::{ExitError, EXIT_NSBOX};
use crate::spec::seccomp::kernel_from_release;
use crate::spec::security::{DeviceRequest, SeccompChoice, SecurityOptions};
use crate::spec::user::valid_group_name;
use anyhow::Result;
use clap::Args;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Args, Default)]
pub struct SecurityArgs {
    /// Give extended privileges to this container (all capabilities and devices, no
    /// seccomp, no masked paths, read-write /sys).
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities (NET_ADMIN, CAP_SYS_TIME, ALL).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities (or ALL).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Security options: no-new-privileges, seccomp=unconfined|PROFILE.json, label=disable,
    /// systempaths=unconfined.
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Add a host device: HOST[:CONTAINER[:rwm]].
    #[arg(long = "device", value_name = "HOST[:CONTAINER[:rwm]]")]
    pub device: Vec<String>,
    /// Add a rule to the device cgroup: 'c|b|a MAJOR:MINOR rwm' (* for any).
    #[arg(long = "device-cgroup-rule", value_name = "RULE")]
    pub device_cgroup_rule: Vec<String>,
    /// Add supplementary groups (numeric gids).
    #[arg(long = "group-add", value_name = "GID")]
    pub group_add: Vec<String>,
    /// Namespaced kernel parameters: KEY=VALUE.
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    pub sysctl: Vec<String>,
    /// Resource limits: NAME=SOFT[:HARD] (nofile, nproc, core, memlock, stack, ...).
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> anyhow::Error {
    ExitError::new(EXIT_NSBOX, msg).into()
}

impl SecurityArgs {
    pub fn to_options(&self) -> Result<SecurityOptions> {
        let mut o = SecurityOptions {
            privileged: self.privileged,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            device_cgroup_rules: self.device_cgroup_rule.clone(),
            ulimits: self.ulimit.clone(),
            kernel: nix::sys::utsname::uname()
                .ok()
                .and_then(|u| kernel_from_release(&u.release().to_string_lossy())),
            host_caps: own_bounding_set(),
            ..Default::default()
        };
        for opt in &self.security_opt {
            apply_security_opt(&mut o, opt)?;
        }
        for g in &self.group_add {
            match g.parse::<u32>() {
                Ok(gid) => o.group_add.push(gid),
                // A name: looked up in the image's /etc/group when the container is made.
                Err(_) if valid_group_name(g) => o.group_add_names.push(g.clone()),
                Err(_) => return Err(invalid(format!("--group-add {g}: not a group name or id"))),
            }
        }
        for s in &self.sysctl {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| invalid(format!("invalid sysctl value {s:?}: need KEY=VALUE")))?;
            o.sysctls.push((k.trim().to_string(), v.to_string()));
        }
        for d in &self.device {
            o.devices.extend(parse_device(d)?);
        }
        if self.privileged {
            let mut host = Vec::new();
            host_devices(Path::new("/dev"), &mut host);
            host.retain(|h| {
                !o.devices
                    .iter()
                    .any(|d| d.container_path == h.container_path)
            });
            o.devices.extend(host);
        }
        Ok(o)
    }
}

/// nsbox's own bounding set, as OCI capabilities.
fn own_bounding_set() -> Vec<oci_spec::runtime::Capability> {
    let mut v: Vec<_> = caps::read(None, caps::CapSet::Bounding)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.to_string().trim_start_matches("CAP_").parse().ok())
        .collect();
    v.sort_by_key(|c: &oci_spec::runtime::Capability| c.to_string());
    v
}

fn apply_security_opt(o: &mut SecurityOptions, opt: &str) -> Result<()> {
    let (key, value) = match opt.split_once(['=', ':']) {
        Some((k, v)) => (k, Some(v)),
        None => (opt, None),
    };
    match (key, value) {
        ("no-new-privileges", None | Some("true")) => o.no_new_privileges = true,
        ("no-new-privileges", Some("false")) => o.no_new_privileges = false,
        ("seccomp", Some("unconfined")) => o.seccomp = SeccompChoice::Unconfined,
        ("seccomp", Some("builtin")) => o.seccomp = SeccompChoice::Default,
        ("seccomp", Some(path)) if !path.is_empty() => {
            let json = fs::read_to_string(path)
                .map_err(|e| invalid(format!("opening seccomp profile ({path}) failed: {e}")))?;
            o.seccomp = SeccompChoice::Profile {
                path: PathBuf::from(path),
                json,
            };
        }
        ("systempaths", Some("unconfined")) => o.unconfined_paths = true,
        // nsbox has no SELinux labelling: turning it off is already the case.
        ("label", Some("disable")) => {}
        ("label", _) => {
            return Err(invalid(format!(
                "--security-opt {opt}: SELinux labels are not supported (only label=disable)"
            )))
        }
        ("apparmor", _) => {
            return Err(invalid(format!(
                "--security-opt {opt}: AppArmor is not supported"
            )))
        }
        _ => return Err(invalid(format!("invalid --security-opt: {opt:?}"))),
    }
    Ok(())
}

/// `--device HOST[:CONTAINER][:PERMS]`, looked up on the host; a directory gives every
/// device node below it, at the same place below CONTAINER (as Docker).
fn parse_device(spec: &str) -> Result<Vec<DeviceRequest>> {
    let parts: Vec<&str> = spec.split(':').collect();
    let is_perms = |s: &str| !s.is_empty() && s.chars().all(|c| "rwm".contains(c));
    let (host, container, access) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perms(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] if is_perms(p) => (*h, *c, *p),
        _ => return Err(invalid(format!("invalid device specification: {spec}"))),
    };
    if !container.starts_with('/') {
        return Err(invalid(format!(
            "invalid device specification: {spec}: the container path must be absolute"
        )));
    }
    let md = fs::metadata(host).map_err(|e| {
        invalid(format!(
            "error gathering device information while adding custom device \"{host}\": {e}"
        ))
    })?;
    if md.is_dir() {
        let mut found = Vec::new();
        devices_below(Path::new(host), Path::new(container), access, &mut found);
        if found.is_empty() {
            return Err(invalid(format!(
                "error gathering device information while adding custom device \"{host}\": no device nodes in it"
            )));
        }
        return Ok(found);
    }
    let Some(kind) = device_kind(&md) else {
        return Err(invalid(format!(
            "error gathering device information while adding custom device \"{host}\": not a device node"
        )));
    };
    Ok(vec![request(container, kind, &md, access)])
}

fn device_kind(md: &fs::Metadata) -> Option<char> {
    if md.file_type().is_char_device() {
        Some('c')
    } else if md.file_type().is_block_device() {
        Some('b')
    } else {
        None
    }
}

/// The device nodes below the host dir `host`, mapped below `container` (links not followed).
fn devices_below(host: &Path, container: &Path, access: &str, out: &mut Vec<DeviceRequest>) {
    let Ok(entries) = fs::read_dir(host) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(md) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        let dest = container.join(e.file_name());
        if md.is_dir() {
            devices_below(&e.path(), &dest, access, out);
        } else if let Some(kind) = device_kind(&md) {
            out.push(request(&dest.to_string_lossy(), kind, &md, access));
        }
    }
}

fn request(path: &str, kind: char, md: &fs::Metadata, access: &str) -> DeviceRequest {
    let rdev = md.rdev();
    DeviceRequest {
        container_path: PathBuf::from(path),
        kind,
        major: nix::sys::stat::major(rdev) as i64,
        minor: nix::sys::stat::minor(rdev) as i64,
        file_mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        access: access.to_string(),
    }
}

/// Every device node under /dev, as Docker's `--privileged` gives them (not the pty,
/// shm, mqueue and fd trees, nor /dev/console, which the runtime owns).
fn host_devices(dir: &Path, out: &mut Vec<DeviceRequest>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(md) = fs::symlink_metadata(&path) else {
            continue;
        };
        let ft = md.file_type();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if ft.is_dir() {
            if !matches!(
                name.as_ref(),
                "pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".udev"
            ) {
                host_devices(&path, out);
            }
            continue;
        }
        if path == Path::new("/dev/console") || path == Path::new("/dev/ptmx") {
            continue;
        }
        let kind = if ft.is_char_device() {
            'c'
        } else if ft.is_block_device() {
            'b'
        } else {
            continue;
        };
        out.push(request(&path.to_string_lossy(), kind, &md, "rwm"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Result<SecurityOptions> {
        SecurityArgs {
            security_opt: list.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
        .to_options()
    }

    #[test]
    fn security_opts_are_dockers_or_refused() {
        assert!(opts(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(opts(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        assert!(
            !opts(&["no-new-privileges=false"])
                .unwrap()
                .no_new_privileges
        );
        assert_eq!(
            opts(&["seccomp=unconfined"]).unwrap().seccomp,
            SeccompChoice::Unconfined
        );
        assert!(opts(&["label=disable"]).is_ok());
        assert!(opts(&["systempaths=unconfined"]).unwrap().unconfined_paths);
        for bad in [
            "label=type:svirt_t",
            "apparmor=unconfined",
            "bogus",
            "seccomp=/nonexistent.json",
        ] {
            assert!(opts(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn group_add_sysctl_and_ulimit_flags() {
        let a = SecurityArgs {
            group_add: vec!["4242".into()],
            sysctl: vec!["net.ipv4.ip_forward=1".into()],
            ..Default::default()
        };
        let o = a.to_options().unwrap();
        assert_eq!(o.group_add, [4242]);
        assert_eq!(
            o.sysctls,
            [("net.ipv4.ip_forward".to_string(), "1".to_string())]
        );
        let names = SecurityArgs {
            group_add: vec!["staff".into()],
            ..Default::default()
        };
        assert_eq!(names.to_options().unwrap().group_add_names, ["staff"]);
        let bad_name = SecurityArgs {
            group_add: vec!["a:b".into()],
            ..Default::default()
        };
        assert!(bad_name.to_options().is_err());
        let bad = SecurityArgs {
            sysctl: vec!["novalue".into()],
            ..Default::default()
        };
        assert!(bad.to_options().is_err());
    }

    #[test]
    fn device_specs() {
        let d = parse_device("/dev/null:/dev/mynull:r").unwrap().remove(0);
        assert_eq!(
            (
                d.container_path.as_path(),
                d.kind,
                d.major,
                d.minor,
                d.access.as_str()
            ),
            (Path::new("/dev/mynull"), 'c', 1, 3, "r")
        );
        let d = parse_device("/dev/zero:rw").unwrap().remove(0);
        assert_eq!(
            (d.container_path.as_path(), d.access.as_str()),
            (Path::new("/dev/zero"), "rw")
        );
        assert!(parse_device("/etc/passwd").is_err());
        assert!(parse_device("/etc").is_err(), "a dir without device nodes");
        let tree = parse_device("/dev/net:/x/net").unwrap_or_default();
        if std::path::Path::new("/dev/net/tun").exists() {
            assert!(tree
                .iter()
                .any(|d| d.container_path == Path::new("/x/net/tun")));
        }
        assert!(parse_device("/dev/null:rel").is_err());
        assert!(parse_device("/dev/nonexistent").is_err());
    }
}
