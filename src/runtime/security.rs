//! The process's privileges: rlimits, user and groups, capabilities, no_new_privs.
//! Order matters (as in runc): drop the bounding set while still root, switch ids with
//! KEEPCAPS so permitted caps survive, then set the final capability sets.

use crate::explain;
use caps::{CapSet, Capability as Cap, CapsHashSet};
use nix::sys::resource::{setrlimit, Resource};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{Capabilities, PosixRlimitType, Process};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("capabilities: {0}")]
    Caps(String),
    #[error("set {what}: {err}")]
    Sys { what: &'static str, err: nix::Error },
    #[error("sysctl {key}: {err}")]
    Sysctl { key: String, err: String },
    #[error("unknown capability {0}")]
    UnknownCap(String),
}

type Result<T> = std::result::Result<T, SecurityError>;

fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> SecurityError {
    move |err| SecurityError::Sys { what, err }
}

fn to_caps(set: &Option<Capabilities>) -> Result<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        let name = format!("CAP_{c}");
        out.insert(Cap::from_str(&name).map_err(|_| SecurityError::UnknownCap(name))?);
    }
    Ok(out)
}

pub fn apply_rlimits(process: &Process) -> Result<()> {
    for r in process.rlimits().iter().flatten() {
        let res = match r.typ() {
            PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
            PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
            PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
            PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
            PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
            PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
            PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
            PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
            PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
            PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
            PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
            PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
            PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
            PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
            PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
            PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        };
        setrlimit(res, r.soft(), r.hard()).map_err(sys("rlimit"))?;
    }
    explain::step("rlimits", || {
        let set: Vec<String> = process
            .rlimits()
            .iter()
            .flatten()
            .map(|r| format!("{:?}={}:{}", r.typ(), r.soft(), r.hard()))
            .collect();
        if set.is_empty() {
            "none set: inherited from nsbox, as Docker does (ulimit -a inside shows them)".into()
        } else {
            format!("setrlimit {}", set.join(" "))
        }
    });
    Ok(())
}

/// Drop the bounding set, switch to the spec's user, set the capability sets.
pub fn apply_identity(process: &Process) -> Result<()> {
    let caps_spec = process.capabilities().as_ref();
    let bounding = caps_spec.map(|c| to_caps(c.bounding())).transpose()?;
    if let Some(bounding) = &bounding {
        let current =
            caps::read(None, CapSet::Bounding).map_err(|e| SecurityError::Caps(e.to_string()))?;
        for cap in current.difference(bounding) {
            caps::drop(None, CapSet::Bounding, *cap)
                .map_err(|e| SecurityError::Caps(e.to_string()))?;
        }
    }

    let user = process.user();
    let (uid, gid) = (user.uid(), user.gid());
    nix::sys::prctl::set_keepcaps(true).map_err(sys("keepcaps"))?;
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    setgroups(&groups).map_err(sys("groups"))?;
    setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid)).map_err(sys("gid"))?;
    setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid)).map_err(sys("uid"))?;
    nix::sys::prctl::set_keepcaps(false).map_err(sys("keepcaps"))?;

    if let Some(c) = caps_spec {
        let effective = to_caps(c.effective())?;
        let permitted = to_caps(c.permitted())?;
        let inheritable = to_caps(c.inheritable())?;
        let ambient = to_caps(c.ambient())?;
        let err = |e: caps::errors::CapsError| SecurityError::Caps(e.to_string());
        // Each capset must stay consistent: inheritable while SETPCAP may still be
        // effective, then effective (a subset of the old permitted), then shrink permitted.
        caps::set(None, CapSet::Inheritable, &inheritable).map_err(err)?;
        caps::set(None, CapSet::Effective, &effective).map_err(err)?;
        caps::set(None, CapSet::Permitted, &permitted).map_err(err)?;
        // A cap can only be ambient if it is permitted and inheritable; like runc, skip
        // the ones that are not rather than refuse the whole spec (`runc spec` asks for
        // ambient caps without inheritable ones).
        for cap in ambient
            .intersection(&inheritable)
            .filter(|c| permitted.contains(c))
        {
            caps::raise(None, CapSet::Ambient, *cap).map_err(err)?;
        }
    }
    if process.no_new_privileges().unwrap_or(false) {
        nix::sys::prctl::set_no_new_privs().map_err(sys("no_new_privs"))?;
    }
    // What the kernel now holds for this process, read back rather than restated.
    explain::step("security", || {
        let names = |set: CapSet| -> String {
            let mut n: Vec<String> = caps::read(None, set)
                .unwrap_or_default()
                .iter()
                .map(|c| c.to_string().trim_start_matches("CAP_").to_string())
                .collect();
            n.sort();
            if n.is_empty() {
                "none".into()
            } else {
                n.join(" ")
            }
        };
        let all = caps::all().len();
        let bounding = caps::read(None, CapSet::Bounding)
            .map(|b| b.len())
            .unwrap_or(0);
        let nnp = nix::sys::prctl::get_no_new_privs().unwrap_or(false);
        format!(
            "setresgid {gid}; setgroups [{}]; setresuid {uid}; capabilities kept: {}; \
             bounding set {bounding} of {all}; ambient: {}; no_new_privs={}",
            groups
                .iter()
                .map(|g| g.as_raw().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            names(CapSet::Effective),
            names(CapSet::Ambient),
            u8::from(nnp)
        )
    });
    Ok(())
}

/// `linux.sysctl`: written through the container's own /proc (after pivot, before
/// /proc/sys is made read-only), so each value lands in the container's namespaces.
pub fn apply_sysctls(spec: &oci_spec::runtime::Spec) -> Result<()> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let own = |t: oci_spec::runtime::LinuxNamespaceType| {
        spec.linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|ns| ns.iter().any(|n| n.typ() == t))
    };
    use oci_spec::runtime::LinuxNamespaceType as Ns;
    for key in &keys {
        // As runc: only what lives in a namespace of the container's own, never the host's.
        let ipc = matches!(
            key.as_str(),
            "kernel.msgmax"
                | "kernel.msgmnb"
                | "kernel.msgmni"
                | "kernel.sem"
                | "kernel.shmall"
                | "kernel.shmmax"
                | "kernel.shmmni"
                | "kernel.shm_rmid_forced"
        ) || key.starts_with("fs.mqueue.");
        let namespaced = (ipc && own(Ns::Ipc))
            || (key.starts_with("net.") && own(Ns::Network))
            || (matches!(key.as_str(), "kernel.hostname" | "kernel.domainname") && own(Ns::Uts));
        if !namespaced {
            return Err(SecurityError::Sysctl {
                key: key.to_string(),
                err: "not in a separate kernel namespace of the container".into(),
            });
        }
        let rel = key.replace('.', "/");
        if rel.is_empty() || rel.split('/').any(|c| c.is_empty() || c == "..") {
            return Err(SecurityError::Sysctl {
                key: key.to_string(),
                err: "invalid name".into(),
            });
        }
        let path = std::path::Path::new("/proc/sys").join(&rel);
        std::fs::write(&path, map[*key].as_bytes()).map_err(|e| SecurityError::Sysctl {
            key: key.to_string(),
            err: e.to_string(),
        })?;
    }
    explain::step("sysctl", || {
        keys.iter()
            .map(|k| format!("{k}={}", map[*k]))
            .collect::<Vec<_>>()
            .join(" ")
    });
    Ok(())
}
