//! The container's filesystem view, built inside its new mount namespace: the spec's
//! mounts on top of the rootfs, a minimal /dev, pivot_root, then masked and read-only paths.

use super::safepath::{fd_metadata, fd_path, InRoot, NodeKind, SafePathError};
use crate::explain;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::makedev;
use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, fchdir, pivot_root};
use oci_spec::runtime::{Mount, Spec};
use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("mount {what} on {dest}: {err}")]
    Mount {
        what: String,
        dest: String,
        err: nix::Error,
    },
    #[error("{what} {path}: {err}")]
    Io {
        what: &'static str,
        path: String,
        err: std::io::Error,
    },
    #[error("pivot_root to {0}: {1}")]
    Pivot(String, nix::Error),
    #[error("mount destination {0} must be absolute")]
    RelativeDest(String),
    #[error(transparent)]
    Path(#[from] SafePathError),
}

type Result<T> = std::result::Result<T, RootfsError>;

fn io_err<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> RootfsError + 'a {
    move |err| RootfsError::Io {
        what,
        path: path.display().to_string(),
        err,
    }
}

fn do_mount(
    src: Option<&str>,
    dest: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    mount_shown(src, dest, dest, fstype, flags, data)
}

/// mount(2) on `dest` (usually `/proc/self/fd/N` of a target resolved inside the root),
/// naming `shown` (the path in the container) in errors.
fn mount_shown(
    src: Option<&str>,
    dest: &Path,
    shown: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    mount(src, dest, fstype, flags, data).map_err(|err| RootfsError::Mount {
        what: fstype.or(src).unwrap_or("(remount)").to_string(),
        dest: shown.display().to_string(),
        err,
    })
}

/// Flags and fs-specific data from an OCI mount's options list.
#[derive(Debug, PartialEq)]
pub struct MountOptions {
    pub flags: MsFlags,
    /// Propagation to apply after mounting (MS_PRIVATE, MS_SLAVE, ... possibly | MS_REC).
    pub propagation: MsFlags,
    pub data: Vec<String>,
}

pub fn parse_options(opts: &[String]) -> MountOptions {
    let mut m = MountOptions {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        data: Vec::new(),
    };
    for o in opts {
        let (set, clear, prop) = match o.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty(), None),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY, None),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty(), None),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID, None),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty(), None),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV, None),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty(), None),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC, None),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty(), None),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS, None),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty(), None),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty(), None),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME, None),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty(), None),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME, None),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty(), None),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME, None),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty(), None),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME, None),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty(), None),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty(), None),
            "private" => (
                MsFlags::empty(),
                MsFlags::empty(),
                Some(MsFlags::MS_PRIVATE),
            ),
            "rprivate" => (
                MsFlags::empty(),
                MsFlags::empty(),
                Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
            ),
            "shared" => (MsFlags::empty(), MsFlags::empty(), Some(MsFlags::MS_SHARED)),
            "rshared" => (
                MsFlags::empty(),
                MsFlags::empty(),
                Some(MsFlags::MS_SHARED | MsFlags::MS_REC),
            ),
            "slave" => (MsFlags::empty(), MsFlags::empty(), Some(MsFlags::MS_SLAVE)),
            "rslave" => (
                MsFlags::empty(),
                MsFlags::empty(),
                Some(MsFlags::MS_SLAVE | MsFlags::MS_REC),
            ),
            "unbindable" => (
                MsFlags::empty(),
                MsFlags::empty(),
                Some(MsFlags::MS_UNBINDABLE),
            ),
            "runbindable" => (
                MsFlags::empty(),
                MsFlags::empty(),
                Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
            ),
            "defaults" => (MsFlags::empty(), MsFlags::empty(), None),
            other => {
                m.data.push(other.to_string());
                continue;
            }
        };
        m.flags.insert(set);
        m.flags.remove(clear);
        if let Some(p) = prop {
            m.propagation = p;
        }
    }
    m
}

/// Make every mount we inherited a slave of the host's, so nothing we mount leaks out,
/// then make the rootfs a mount point of its own (pivot_root needs one).
pub fn enter(rootfs: &Path, propagation: Option<&str>) -> Result<()> {
    let prop = match propagation {
        Some(p) => parse_options(&[p.to_string()]).propagation,
        None => MsFlags::empty(),
    };
    let prop = if prop.is_empty() {
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    } else {
        prop
    };
    do_mount(None, Path::new("/"), None, prop, None)?;
    if prop.contains(MsFlags::MS_SHARED) {
        // A shared tree would carry every mount we make under the rootfs (proc, dev, the
        // rootfs bind itself) back to the host: make the mount holding the rootfs private,
        // so only user binds that are shared themselves propagate (runc does the same).
        let parent = mount_point_of(rootfs)?;
        do_mount(None, &parent, None, MsFlags::MS_PRIVATE, None)?;
    }
    do_mount(
        Some(&rootfs.to_string_lossy()),
        rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    explain::step("mount", || {
        let r = if prop.contains(MsFlags::MS_REC) {
            "r"
        } else {
            ""
        };
        let kind = [
            (MsFlags::MS_SHARED, "shared"),
            (MsFlags::MS_SLAVE, "slave"),
            (MsFlags::MS_PRIVATE, "private"),
            (MsFlags::MS_UNBINDABLE, "unbindable"),
        ]
        .iter()
        .find(|(f, _)| prop.contains(*f))
        .map(|(_, n)| *n)
        .unwrap_or("slave");
        format!(
            "mount --make-{r}{kind} /{}; mount --rbind {root} {root} (pivot_root needs a mount point)",
            if prop.contains(MsFlags::MS_SHARED) {
                "; mount --make-private <mount holding the rootfs>"
            } else {
                ""
            },
            root = rootfs.display()
        )
    });
    Ok(())
}

/// The mount point that holds `path` (the longest mount point that is a prefix of it).
fn mount_point_of(path: &Path) -> Result<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo")
        .map_err(io_err("read", Path::new("/proc/self/mountinfo")))?;
    Ok(info
        .lines()
        .filter_map(MountInfo::parse)
        .map(|mi| PathBuf::from(mi.mount_point))
        .filter(|mp| path.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
        .unwrap_or_else(|| PathBuf::from("/")))
}

/// Mount every entry of `spec.mounts` inside `root` (the rootfs, opened after `enter`), in
/// order. Each destination is resolved inside the root and mounted on by fd.
pub fn mount_all(spec: &Spec, root: &InRoot) -> Result<()> {
    let mut done = Vec::new();
    for m in spec.mounts().iter().flatten() {
        mount_one(m, root)?;
        if explain::enabled() {
            // "proc on /proc (nosuid,noexec,nodev)", "/host/dir on /data (rbind,rprivate)".
            let typ = m.typ().as_deref().unwrap_or("bind");
            let src = m.source().as_ref().map(|s| s.display().to_string());
            let what = match src {
                Some(s) if typ == "bind" || s.starts_with('/') => s,
                _ => typ.to_string(),
            };
            let opts = m.options().as_deref().unwrap_or(&[]).join(",");
            let opts = if opts.is_empty() {
                String::new()
            } else {
                format!(" ({opts})")
            };
            done.push(format!("{what} on {}{opts}", m.destination().display()));
        }
    }
    explain::step("mount", || done.join("; "));
    Ok(())
}

fn mount_one(m: &Mount, root: &InRoot) -> Result<()> {
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(RootfsError::RelativeDest(dest.display().to_string()));
    }
    let typ = m.typ().as_deref().unwrap_or("bind");
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    let is_bind = typ == "bind" || opts.flags.contains(MsFlags::MS_BIND);
    let source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned());

    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroupfs(root, dest, &opts);
    }
    // The mount point, made inside the root if missing: a file for a file bind, a
    // directory otherwise.
    let src_is_file = is_bind
        && source
            .as_deref()
            .map(|s| !Path::new(s).is_dir())
            .unwrap_or(false);
    let target = if src_is_file {
        root.ensure_file(dest)?
    } else {
        root.ensure_dir(dest)?
    };
    let at = fd_path(&target);

    let data = opts.data.join(",");
    let data = (!data.is_empty()).then_some(data);
    if is_bind {
        let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
        mount_shown(source.as_deref(), &at, dest, None, flags, None)?;
        // Bind mounts ignore most flags on the first call; apply them with a remount.
        let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if !extra.is_empty() {
            remount_in(root, dest, extra)?;
        }
    } else {
        let src = source.as_deref().unwrap_or(typ);
        mount_shown(Some(src), &at, dest, Some(typ), opts.flags, data.as_deref())?;
    }
    drop(target);
    if !opts.propagation.is_empty() {
        let top = root.resolve(dest)?;
        mount_shown(None, &fd_path(&top), dest, None, opts.propagation, None)?;
    }
    Ok(())
}

/// Remount what is now mounted at `dest` (resolved again inside the root, so the fd is the
/// new mount's root and not the directory beneath it).
fn remount_in(root: &InRoot, dest: &Path, flags: MsFlags) -> Result<()> {
    let top = root.resolve(dest)?;
    remount_shown(&fd_path(&top), dest, flags)
}

/// Bind-remount with `flags`, keeping the flags the mount already has that a
/// remount may not drop (nosuid, nodev, noexec, atime): what runc does too.
fn remount(dest: &Path, flags: MsFlags) -> Result<()> {
    remount_shown(dest, dest, flags)
}

fn remount_shown(dest: &Path, shown: &Path, flags: MsFlags) -> Result<()> {
    let mut keep = MsFlags::empty();
    if let Ok(st) = statvfs(dest) {
        let f = st.flags();
        for (fs_flag, ms) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(fs_flag) {
                keep |= ms;
            }
        }
    }
    mount_shown(
        None,
        dest,
        shown,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | keep | flags,
        None,
    )
}

/// /sys/fs/cgroup inside the container. On a v2 host: one cgroup2 mount (the cgroup
/// namespace makes its root the container's cgroup). On a v1/hybrid host: a tmpfs with
/// one mount per hierarchy the host has. New mounts of existing hierarchies are
/// made read-only per mount (bind-remount), never by touching the shared superblock.
fn mount_cgroupfs(root: &InRoot, dest: &Path, opts: &MountOptions) -> Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let ro = opts.flags.contains(MsFlags::MS_RDONLY);
    let unified = statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
        .unwrap_or(false);
    let target = root.ensure_dir(dest)?;
    if unified {
        mount_shown(
            Some("cgroup2"),
            &fd_path(&target),
            dest,
            Some("cgroup2"),
            flags,
            None,
        )?;
        if ro {
            remount_in(root, dest, MsFlags::MS_RDONLY)?;
        }
        return Ok(());
    }
    mount_shown(
        Some("tmpfs"),
        &fd_path(&target),
        dest,
        Some("tmpfs"),
        flags,
        Some("mode=755"),
    )?;
    // The fresh tmpfs, held by fd: its hierarchy dirs are made and mounted on through it.
    let tmpfs = InRoot::from_fd(OwnedFd::from(root.resolve(dest)?));
    let info = fs::read_to_string("/proc/self/mountinfo")
        .map_err(io_err("read", Path::new("/proc/self/mountinfo")))?;
    for line in info.lines() {
        let Some(mi) = MountInfo::parse(line) else {
            continue;
        };
        let Some(name) = mi.mount_point.strip_prefix("/sys/fs/cgroup/") else {
            continue;
        };
        if (mi.fstype != "cgroup" && mi.fstype != "cgroup2") || name.contains('/') {
            continue;
        }
        let shown = dest.join(name);
        let sub = tmpfs.mkdir_all(Path::new(name), 0o755)?;
        // Super options name the hierarchy's controllers; "rw"/"ro" there are per-sb, drop them.
        let data: Vec<&str> = mi
            .super_options
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .collect();
        mount_shown(
            Some("cgroup"),
            &fd_path(&sub),
            &shown,
            Some(mi.fstype),
            flags,
            Some(&data.join(",")),
        )?;
        if ro {
            let top = tmpfs.resolve(Path::new(name))?;
            remount_shown(&fd_path(&top), &shown, MsFlags::MS_RDONLY)?;
        }
    }
    if ro {
        remount_in(root, dest, MsFlags::MS_RDONLY)?;
    }
    Ok(())
}

/// One line of /proc/self/mountinfo (the fields we need).
pub struct MountInfo<'a> {
    pub mount_point: &'a str,
    pub fstype: &'a str,
    pub super_options: &'a str,
}

impl<'a> MountInfo<'a> {
    pub fn parse(line: &'a str) -> Option<Self> {
        let (pre, post) = line.split_once(" - ")?;
        let mount_point = pre.split(' ').nth(4)?;
        let mut post = post.split(' ');
        Some(MountInfo {
            mount_point,
            fstype: post.next()?,
            // (the mount source comes next; nothing needs it)
            super_options: post.nth(1)?,
        })
    }
}

/// Docker's minimal /dev: the nodes every program expects, plus the spec's own devices.
/// Every node and link is made inside the root (whatever `/dev` is in the image).
pub fn create_devices(spec: &Spec, root: &InRoot) -> Result<()> {
    let mut names = Vec::new();
    let defaults: [(&str, u64, u64); 6] = [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ];
    for (name, major, minor) in defaults {
        let path = Path::new("/dev").join(name);
        make_node(
            root,
            &path,
            NodeKind::Char,
            0o666,
            makedev(major, minor),
            None,
        )?;
        names.push(name.to_string());
    }
    for d in spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        let kind = match d.typ() {
            oci_spec::runtime::LinuxDeviceType::B => NodeKind::Block,
            oci_spec::runtime::LinuxDeviceType::P => NodeKind::Fifo,
            _ => NodeKind::Char,
        };
        let owner = Some((d.uid().unwrap_or(0), d.gid().unwrap_or(0)));
        make_node(
            root,
            d.path(),
            kind,
            d.file_mode().unwrap_or(0o666),
            makedev(d.major() as u64, d.minor() as u64),
            owner,
        )?;
        names.push(d.path().display().to_string());
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
        ("ptmx", "pts/ptmx"),
    ] {
        root.replace_symlink(&Path::new("/dev").join(link), Path::new(target))?;
    }
    explain::step("devices", || {
        format!("mknod {} in /dev; /dev/ptmx -> pts/ptmx", names.join(" "))
    });
    Ok(())
}

/// A device node at `path` inside the root. In a user namespace mknod of a device is
/// refused (EPERM): the host's node at the same path is bound there instead (runc, crun);
/// it keeps the host's owner and mode.
fn make_node(
    root: &InRoot,
    path: &Path,
    kind: NodeKind,
    mode: u32,
    dev: u64,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    match root.make_node(path, kind, mode, dev, owner) {
        Err(e) if e.is_eperm() && !matches!(kind, NodeKind::Fifo) => {
            root.remove_file(path)?;
            let h = root.ensure_file(path)?;
            let host = Path::new("/").join(path);
            let src = host.to_str().ok_or_else(|| RootfsError::Io {
                what: "bind the host's device",
                path: host.display().to_string(),
                err: std::io::Error::from_raw_os_error(libc::EINVAL),
            })?;
            mount_shown(Some(src), &fd_path(&h), path, None, MsFlags::MS_BIND, None)
        }
        other => Ok(other?),
    }
}

/// Swap the root: the rootfs becomes `/`, the old root is detached and gone from view.
/// pivot_root(".", ".") stacks the old root on top of the new one; unmounting "."
/// then removes it (runc's trick: no temporary directory inside the container).
pub fn pivot(rootfs: &Path) -> Result<()> {
    let old_root = fs::File::open("/").map_err(io_err("open", Path::new("/")))?;
    let dir = fs::File::open(rootfs).map_err(io_err("open", rootfs))?;
    fchdir(&dir).map_err(|e| RootfsError::Pivot(rootfs.display().to_string(), e))?;
    pivot_root(".", ".").map_err(|e| RootfsError::Pivot(rootfs.display().to_string(), e))?;
    // Our cwd is still the new root's own mount; step onto the old root stacked on top of it,
    // so that the next two calls act on the old root and not on the container's mounts.
    fchdir(&old_root).map_err(|e| RootfsError::Pivot("old root".into(), e))?;
    // The old root may be shared with the host; make it a slave before detaching it.
    do_mount(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )?;
    umount2(".", MntFlags::MNT_DETACH)
        .map_err(|e| RootfsError::Pivot("detach old root".into(), e))?;
    chdir("/").map_err(|e| RootfsError::Pivot("/".into(), e))?;
    explain::step("pivot_root", || {
        format!(
            "cd {} && pivot_root . . : it is now /; old root made rslave and detached (umount -l .)",
            rootfs.display()
        )
    });
    Ok(())
}

/// After pivot: hide the masked paths, make the read-only ones read-only, and the
/// root itself if the spec asks. Each path is resolved inside the new root and mounted on
/// by fd (through the container's own /proc).
pub fn finish(spec: &Spec) -> Result<()> {
    let root = InRoot::open(Path::new("/"))?;
    let linux = spec.linux().as_ref();
    let masked = linux
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    let mut masked_done = Vec::new();
    for p in &masked {
        let path = Path::new(p);
        let Some(h) = root.try_resolve(path)? else {
            continue;
        };
        let md = fd_metadata(h.as_fd()).map_err(io_err("stat", path))?;
        let at = fd_path(&h);
        if md.is_dir() {
            mount_shown(
                Some("tmpfs"),
                &at,
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )?;
        } else {
            mount_shown(Some("/dev/null"), &at, path, None, MsFlags::MS_BIND, None)?;
        }
        masked_done.push(p.clone());
    }
    let readonly = linux
        .and_then(|l| l.readonly_paths().clone())
        .unwrap_or_default();
    let mut readonly_done = Vec::new();
    for p in &readonly {
        let path = Path::new(p);
        let Some(h) = root.try_resolve(path)? else {
            continue;
        };
        let at = fd_path(&h);
        mount_shown(
            Some(&at.to_string_lossy()),
            &at,
            path,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        drop(h);
        remount_in(&root, path, MsFlags::MS_RDONLY)?;
        readonly_done.push(p.clone());
    }
    let root_ro = spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false);
    if root_ro {
        remount(Path::new("/"), MsFlags::MS_RDONLY)?;
    }
    explain::step("mount", || {
        format!(
            "masked (ro tmpfs or /dev/null bound over): {}; read-only (bind + remount ro): {}; root {}",
            masked_done.join(" "),
            readonly_done.join(" "),
            if root_ro { "remounted ro" } else { "rw" }
        )
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_flags_propagation_and_data() {
        let o = parse_options(&[
            "nosuid".into(),
            "rbind".into(),
            "rprivate".into(),
            "mode=755".into(),
            "ro".into(),
        ]);
        assert!(o.flags.contains(
            MsFlags::MS_NOSUID | MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
        ));
        assert_eq!(o.propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(o.data, vec!["mode=755".to_string()]);
        let o = parse_options(&["ro".into(), "rw".into()]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn mountinfo_line_parses() {
        let l =
            "35 24 0:30 / /sys/fs/cgroup/memory rw,relatime shared:13 - cgroup cgroup rw,memory";
        let mi = MountInfo::parse(l).unwrap();
        assert_eq!(mi.mount_point, "/sys/fs/cgroup/memory");
        assert_eq!(mi.fstype, "cgroup");
        assert_eq!(mi.super_options, "rw,memory");
    }
}
