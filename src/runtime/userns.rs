//! The container's user namespace: created by clone together with the others (so they
//! are owned by it), its uid_map and gid_map written by the launcher while init waits,
//! then the rootfs seen through an idmapped mount, so the image's files (owned by root on
//! disk) belong to the container's root.
//!
//! Binds, volumes and the /etc files are not idmapped: as with podman's `--userns=auto`
//! (without `:idmap`) and Docker's userns-remap, host files keep their host owners, and
//! those outside the mapping show as nobody (65534).

use super::sys;
use crate::explain;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("user namespace without linux.uidMappings and linux.gidMappings")]
    NoMappings,
    #[error("user namespace: write {path} ({maps}): {err}")]
    WriteMap {
        path: String,
        maps: String,
        err: std::io::Error,
    },
    #[error("user namespace: idmapped mount of {path}: {what}: {err}")]
    Idmap {
        path: String,
        what: &'static str,
        err: std::io::Error,
    },
    #[error("user namespace: become root: {0}")]
    Root(nix::Error),
}

/// The mappings of a new user namespace the spec asks for.
#[derive(Debug, Clone)]
pub struct UsernsPlan {
    pub uid: Vec<LinuxIdMapping>,
    pub gid: Vec<LinuxIdMapping>,
}

/// Some(plan) when the spec asks for a *new* user namespace; it must carry mappings.
pub fn plan(spec: &Spec) -> Result<Option<UsernsPlan>, UsernsError> {
    let Some(linux) = spec.linux().as_ref() else {
        return Ok(None);
    };
    let new_user = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    if !new_user {
        return Ok(None);
    }
    let uid = linux.uid_mappings().clone().unwrap_or_default();
    let gid = linux.gid_mappings().clone().unwrap_or_default();
    if uid.is_empty() || gid.is_empty() {
        return Err(UsernsError::NoMappings);
    }
    Ok(Some(UsernsPlan { uid, gid }))
}

/// The text of a uid_map/gid_map file: one "CONTAINER HOST SIZE" line per mapping.
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// In the launcher, while init waits: write the child's uid_map and gid_map (one write
/// each, as the kernel wants). setgroups stays "allow": we are privileged, and the
/// container's process needs setgroups(2) for its additional groups.
pub fn write_maps(pid: i32, plan: &UsernsPlan) -> Result<(), UsernsError> {
    for (file, maps) in [("uid_map", &plan.uid), ("gid_map", &plan.gid)] {
        let path = format!("/proc/{pid}/{file}");
        let text = map_text(maps);
        std::fs::write(&path, &text).map_err(|err| UsernsError::WriteMap {
            path: path.clone(),
            maps: text.trim().replace('\n', ", "),
            err,
        })?;
    }
    explain::step("userns", || {
        format!(
            "echo '{}' > /proc/{pid}/uid_map; echo '{}' > /proc/{pid}/gid_map",
            map_text(&plan.uid).trim(),
            map_text(&plan.gid).trim()
        )
    });
    Ok(())
}

/// On cgroup v2, hand the container's cgroup to its root, as the kernel's delegation
/// rules ask (runc, crun: the directory, cgroup.procs, cgroup.threads and
/// cgroup.subtree_control), so a cgroup-aware init inside may manage its own subtree.
/// v1 hierarchies (no cgroup.subtree_control) stay root's: the launcher writes them.
pub fn delegate_cgroup(dirs: &[std::path::PathBuf], plan: &UsernsPlan) -> Result<(), UsernsError> {
    let root = |maps: &[LinuxIdMapping]| {
        maps.iter()
            .find(|m| m.container_id() == 0)
            .map(|m| m.host_id())
    };
    let (Some(uid), Some(gid)) = (root(&plan.uid), root(&plan.gid)) else {
        return Ok(());
    };
    for dir in dirs
        .iter()
        .filter(|d| d.join("cgroup.subtree_control").exists())
    {
        for p in [
            dir.clone(),
            dir.join("cgroup.procs"),
            dir.join("cgroup.threads"),
            dir.join("cgroup.subtree_control"),
        ] {
            std::os::unix::fs::chown(&p, Some(uid), Some(gid)).map_err(|err| {
                UsernsError::Idmap {
                    path: p.display().to_string(),
                    what: "chown cgroup",
                    err,
                }
            })?;
        }
    }
    Ok(())
}

/// A user namespace with these maps, as an fd, before any container exists: a child
/// clones into a new one and waits while we write its maps and open it, then exits.
/// (The caller must be single-threaded, as for every clone of the runtime.)
pub fn namespace_with_maps(plan: &UsernsPlan) -> Result<OwnedFd, UsernsError> {
    let err = |what: &'static str| {
        move |err: std::io::Error| UsernsError::Idmap {
            path: "(user namespace)".to_string(),
            what,
            err,
        }
    };
    let (wait_r, wait_w) = nix::unistd::pipe().map_err(|e| err("pipe")(e.into()))?;
    let (pid, _pidfd) =
        match sys::clone_fork(libc::CLONE_NEWUSER as u64, None).map_err(err("clone"))? {
            sys::Forked::Child => {
                drop(wait_w);
                let mut b = [0u8; 1];
                let _ = nix::unistd::read(&wait_r, &mut b);
                sys::exit_now(0)
            }
            sys::Forked::Parent { pid, pidfd } => (pid, pidfd),
        };
    drop(wait_r);
    let res = write_maps(pid, plan).and_then(|()| {
        File::open(format!("/proc/{pid}/ns/user"))
            .map(OwnedFd::from)
            .map_err(err("open /proc/PID/ns/user"))
    });
    drop(wait_w);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    res
}

/// A detached copy of the mount at `path` (rooted at `path`), idmapped through `userns`:
/// files owned by 0 on disk belong to that namespace's root when seen through it.
pub fn idmapped_tree(path: &Path, userns: BorrowedFd<'_>) -> Result<OwnedFd, UsernsError> {
    let err = |what: &'static str| {
        move |err: std::io::Error| UsernsError::Idmap {
            path: path.display().to_string(),
            what,
            err,
        }
    };
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| err("path")(std::io::Error::other(e)))?;
    let tree = sys::open_tree_clone(&c).map_err(err("open_tree"))?;
    sys::mount_setattr_idmap(tree.as_fd(), userns).map_err(err("mount_setattr"))?;
    explain::step("userns", || {
        format!(
            "open_tree({}, OPEN_TREE_CLONE); mount_setattr(MOUNT_ATTR_IDMAP)",
            path.display()
        )
    });
    Ok(tree)
}

/// In the launcher, once the maps of init (`pid`) are written: the rootfs idmapped
/// through init's user namespace, for init to attach over its rootfs. None for an
/// overlay rootfs: overlayfs cannot be idmapped as a whole; its owner (nsbox's `run`, or
/// podman's storage) idmaps the layers below it instead.
pub fn idmapped_rootfs(pid: i32, rootfs: &Path) -> Result<Option<OwnedFd>, UsernsError> {
    let is_overlay = nix::sys::statfs::statfs(rootfs)
        .map(|s| s.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC)
        .unwrap_or(false);
    if is_overlay {
        return Ok(None);
    }
    let userns = File::open(format!("/proc/{pid}/ns/user")).map_err(|err| UsernsError::Idmap {
        path: rootfs.display().to_string(),
        what: "open userns",
        err,
    })?;
    idmapped_tree(rootfs, userns.as_fd()).map(Some)
}

/// In init, in its own mount namespace: put the idmapped tree over the rootfs.
pub fn attach_rootfs(tree: BorrowedFd<'_>, rootfs: &Path) -> Result<(), UsernsError> {
    let err = |err: std::io::Error| UsernsError::Idmap {
        path: rootfs.display().to_string(),
        what: "move_mount",
        err,
    };
    let c =
        CString::new(rootfs.as_os_str().as_bytes()).map_err(|e| err(std::io::Error::other(e)))?;
    sys::move_mount_to(tree, &c).map_err(err)?;
    explain::step("userns", || {
        format!("move_mount(idmapped tree → {})", rootfs.display())
    });
    Ok(())
}

/// In init, once the maps are written: become the namespace's root (uid 0, gid 0), so
/// files we create are owned by the container's root on the host.
pub fn become_root() -> Result<(), UsernsError> {
    let root_u = nix::unistd::Uid::from_raw(0);
    let root_g = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_g, root_g, root_g).map_err(UsernsError::Root)?;
    nix::unistd::setresuid(root_u, root_u, root_u).map_err(UsernsError::Root)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxIdMappingBuilder, LinuxNamespaceBuilder};

    fn m(c: u32, h: u32, n: u32) -> LinuxIdMapping {
        LinuxIdMappingBuilder::default()
            .container_id(c)
            .host_id(h)
            .size(n)
            .build()
            .unwrap()
    }

    #[test]
    fn map_text_is_one_line_per_mapping() {
        assert_eq!(
            map_text(&[m(0, 100000, 65536), m(65536, 5, 1)]),
            "0 100000 65536\n65536 5 1\n"
        );
    }

    #[test]
    fn a_user_namespace_needs_mappings() {
        let ns = LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::User)
            .build()
            .unwrap();
        let mut spec = Spec::default();
        spec.set_linux(Some(
            LinuxBuilder::default()
                .namespaces(vec![ns.clone()])
                .build()
                .unwrap(),
        ));
        assert!(matches!(plan(&spec), Err(UsernsError::NoMappings)));
        spec.set_linux(Some(
            LinuxBuilder::default()
                .namespaces(vec![ns])
                .uid_mappings(vec![m(0, 100000, 65536)])
                .gid_mappings(vec![m(0, 100000, 65536)])
                .build()
                .unwrap(),
        ));
        assert!(plan(&spec).unwrap().is_some());
        assert!(plan(&Spec::default()).unwrap().is_none());
    }
}
