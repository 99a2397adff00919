//! Which namespaces a spec asks for: new ones become clone flags; ones with a path are opened
//! by the launcher (so a bad path fails early) and joined by the container's init right
//! after clone (`join_all`): the launcher never enters them itself.

use crate::explain;
use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::fs::File;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("join {kind} namespace {path}: {err}")]
    Join {
        kind: String,
        path: String,
        err: String,
    },
}

/// The namespaces to create, minus the cgroup namespace: that one is unshared by init
/// only after the launcher has placed it in its cgroup, so the container sees its own
/// cgroup as `/`.
#[derive(Debug, Clone)]
pub struct NamespacePlan {
    pub clone_flags: CloneFlags,
    pub new_cgroupns: bool,
    pub new_netns: bool,
    /// Namespaces to join (user first), opened by the launcher, joined by init.
    pub join: Vec<Joined>,
}

#[derive(Debug, Clone)]
pub struct Joined {
    pub flag: CloneFlags,
    pub kind: String,
    pub path: String,
    pub file: Arc<File>,
}

impl NamespacePlan {
    /// Whether a pid namespace is joined by path (init must then be cloned by a joiner).
    pub fn joins_pid(&self) -> bool {
        self.join.iter().any(|j| j.flag == CloneFlags::CLONE_NEWPID)
    }
}

/// Join every namespace of the plan that has a path (in the child of clone, first thing).
pub fn join_all(plan: &NamespacePlan) -> Result<(), NamespaceError> {
    for j in &plan.join {
        setns(j.file.as_ref(), j.flag).map_err(|e| NamespaceError::Join {
            kind: j.kind.clone(),
            path: j.path.clone(),
            err: e.to_string(),
        })?;
    }
    Ok(())
}

pub fn flag_of(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME shares its value with CSIGNAL; nix has no constant for it.
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The plan: clone flags for the new namespaces, open files for the ones to join.
pub fn plan(spec: &Spec) -> Result<NamespacePlan, NamespaceError> {
    let mut plan = NamespacePlan {
        clone_flags: CloneFlags::empty(),
        new_cgroupns: false,
        new_netns: false,
        join: Vec::new(),
    };
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in &namespaces {
        let flag = flag_of(ns.typ());
        if let Some(path) = ns.path() {
            let join_err = |err: String| NamespaceError::Join {
                kind: ns.typ().to_string(),
                path: path.display().to_string(),
                err,
            };
            let f = File::open(path).map_err(|e| join_err(e.to_string()))?;
            let j = Joined {
                flag,
                kind: ns.typ().to_string(),
                path: path.display().to_string(),
                file: Arc::new(f),
            };
            // A user namespace first: it grants the rights to join the others.
            if ns.typ() == LinuxNamespaceType::User {
                plan.join.insert(0, j);
            } else {
                plan.join.push(j);
            }
            continue;
        }
        match ns.typ() {
            LinuxNamespaceType::Cgroup => plan.new_cgroupns = true,
            LinuxNamespaceType::Network => {
                plan.new_netns = true;
                plan.clone_flags |= flag;
            }
            _ => plan.clone_flags |= flag,
        }
    }
    explain::step("namespaces", || {
        let mut names: Vec<String> = namespaces
            .iter()
            .filter(|n| n.path().is_none())
            .map(|n| n.typ().to_string())
            .collect();
        names.sort();
        // The same set by hand: unshare's long options are the OCI names, but for mnt.
        let opts: Vec<String> = names
            .iter()
            .map(|n| match n.as_str() {
                "mnt" | "mount" => "--mount".to_string(),
                "network" => "--net".to_string(),
                other => format!("--{other}"),
            })
            .collect();
        let joined = namespaces
            .iter()
            .filter_map(|n| {
                n.path()
                    .as_ref()
                    .map(|p| format!("{} {}", n.typ(), p.display()))
            })
            .collect::<Vec<_>>();
        let joined = if joined.is_empty() {
            String::new()
        } else {
            format!("; joined by init (setns): {}", joined.join(", "))
        };
        format!(
            "new: {} (by hand: unshare {} --fork){joined}",
            names.join(" "),
            opts.join(" ")
        )
    });
    Ok(plan)
}

/// Human-readable clone flags, e.g. "CLONE_NEWPID|CLONE_NEWNS".
pub fn describe(flags: CloneFlags) -> String {
    let names = [
        (CloneFlags::CLONE_NEWPID, "CLONE_NEWPID"),
        (CloneFlags::CLONE_NEWNS, "CLONE_NEWNS"),
        (CloneFlags::CLONE_NEWUTS, "CLONE_NEWUTS"),
        (CloneFlags::CLONE_NEWIPC, "CLONE_NEWIPC"),
        (CloneFlags::CLONE_NEWNET, "CLONE_NEWNET"),
        (CloneFlags::CLONE_NEWUSER, "CLONE_NEWUSER"),
        (CloneFlags::CLONE_NEWCGROUP, "CLONE_NEWCGROUP"),
    ];
    names
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("|")
}
