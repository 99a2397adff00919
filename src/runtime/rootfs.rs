//! The container's filesystem view, built inside its new mount namespace: the spec's
//! mounts on top of the rootfs, a minimal /dev, pivot_root, then masked and read-only paths.

use crate::explain;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, fchdir, pivot_root};
use oci_spec::runtime::{Mount, Spec};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

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
    mount(src, dest, fstype, flags, data).map_err(|err| RootfsError::Mount {
        what: fstype.or(src).unwrap_or("(remount)").to_string(),
        dest: dest.display().to_string(),
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

/// `root` + `path`, resolving symlinks as if `root` were `/`: a symlink in the image can
/// never point a mount outside the container's root (the filepath-securejoin idea).
pub fn secure_join(root: &Path, path: &Path) -> std::io::Result<PathBuf> {
    let mut resolved = PathBuf::new();
    let mut pending: VecDeque<OsString> = comps(path);
    let mut links = 0;
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            resolved.pop();
            continue;
        }
        let candidate = root.join(&resolved).join(&c);
        match fs::symlink_metadata(&candidate) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                for t in comps(&target).into_iter().rev() {
                    pending.push_front(t);
                }
            }
            _ => resolved.push(c),
        }
    }
    Ok(root.join(resolved))
}

fn comps(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
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

/// Mount every entry of `spec.mounts` under `rootfs`, in order.
pub fn mount_all(spec: &Spec, rootfs: &Path) -> Result<()> {
    let mut done = Vec::new();
    for m in spec.mounts().iter().flatten() {
        mount_one(m, rootfs)?;
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

fn mount_one(m: &Mount, rootfs: &Path) -> Result<()> {
    let dest_in = m.destination();
    if !dest_in.is_absolute() {
        return Err(RootfsError::RelativeDest(dest_in.display().to_string()));
    }
    let dest = secure_join(rootfs, dest_in).map_err(io_err("resolve", dest_in))?;
    let typ = m.typ().as_deref().unwrap_or("bind");
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    let is_bind = typ == "bind" || opts.flags.contains(MsFlags::MS_BIND);
    let source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned());

    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroupfs(&dest, &opts);
    }
    // Create the mount point: a file for a file bind, a directory otherwise.
    let src_is_file = is_bind
        && source
            .as_deref()
            .map(|s| !Path::new(s).is_dir())
            .unwrap_or(false);
    if src_is_file {
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io_err("mkdir", parent))?;
        }
        if fs::symlink_metadata(&dest).is_err() {
            fs::File::create(&dest).map_err(io_err("create", &dest))?;
        }
    } else if !dest.exists() {
        fs::create_dir_all(&dest).map_err(io_err("mkdir", &dest))?;
    }

    let data = opts.data.join(",");
    let data = (!data.is_empty()).then_some(data);
    if is_bind {
        let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
        do_mount(source.as_deref(), &dest, None, flags, None)?;
        // Bind mounts ignore most flags on the first call; apply them with a remount.
        let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if !extra.is_empty() {
            remount(&dest, extra)?;
        }
    } else {
        let src = source.as_deref().unwrap_or(typ);
        do_mount(Some(src), &dest, Some(typ), opts.flags, data.as_deref())?;
    }
    if !opts.propagation.is_empty() {
        do_mount(None, &dest, None, opts.propagation, None)?;
    }
    Ok(())
}

/// Bind-remount with `flags`, keeping the flags the mount already has that a
/// remount may not drop (nosuid, nodev, noexec, atime): what runc does too.
fn remount(dest: &Path, flags: MsFlags) -> Result<()> {
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
    do_mount(
        None,
        dest,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | keep | flags,
        None,
    )
}

/// /sys/fs/cgroup inside the container. On a v2 host: one cgroup2 mount (the cgroup
/// namespace makes its root the container's cgroup). On a v1/hybrid host: a tmpfs with
/// one mount per hierarchy the host has. New mounts of existing hierarchies are
/// made read-only per mount (bind-remount), never by touching the shared superblock.
fn mount_cgroupfs(dest: &Path, opts: &MountOptions) -> Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let ro = opts.flags.contains(MsFlags::MS_RDONLY);
    let unified = statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
        .unwrap_or(false);
    fs::create_dir_all(dest).map_err(io_err("mkdir", dest))?;
    if unified {
        do_mount(Some("cgroup2"), dest, Some("cgroup2"), flags, None)?;
        if ro {
            remount(dest, MsFlags::MS_RDONLY)?;
        }
        return Ok(());
    }
    do_mount(Some("tmpfs"), dest, Some("tmpfs"), flags, Some("mode=755"))?;
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
        let target = dest.join(name);
        fs::create_dir_all(&target).map_err(io_err("mkdir", &target))?;
        // Super options name the hierarchy's controllers; "rw"/"ro" there are per-sb, drop them.
        let data: Vec<&str> = mi
            .super_options
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .collect();
        do_mount(
            Some("cgroup"),
            &target,
            Some(mi.fstype),
            flags,
            Some(&data.join(",")),
        )?;
        if ro {
            remount(&target, MsFlags::MS_RDONLY)?;
        }
    }
    if ro {
        remount(dest, MsFlags::MS_RDONLY)?;
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
pub fn create_devices(spec: &Spec, rootfs: &Path) -> Result<()> {
    let dev = rootfs.join("dev");
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
        make_node(
            &dev.join(name),
            SFlag::S_IFCHR,
            0o666,
            major,
            minor,
            None,
            &Path::new("/dev").join(name),
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
        let path = secure_join(rootfs, d.path()).map_err(io_err("resolve", d.path()))?;
        let kind = match d.typ() {
            oci_spec::runtime::LinuxDeviceType::B => SFlag::S_IFBLK,
            oci_spec::runtime::LinuxDeviceType::P => SFlag::S_IFIFO,
            _ => SFlag::S_IFCHR,
        };
        let owner = Some((d.uid().unwrap_or(0), d.gid().unwrap_or(0)));
        make_node(
            &path,
            kind,
            d.file_mode().unwrap_or(0o666),
            d.major() as u64,
            d.minor() as u64,
            owner,
            d.path(),
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
        let p = dev.join(link);
        let _ = fs::remove_file(&p);
        symlink(target, &p).map_err(io_err("symlink", &p))?;
    }
    explain::step("devices", || {
        format!("mknod {} in /dev; /dev/ptmx -> pts/ptmx", names.join(" "))
    });
    Ok(())
}

fn make_node(
    path: &Path,
    kind: SFlag,
    mode: u32,
    major: u64,
    minor: u64,
    owner: Option<(u32, u32)>,
    host: &Path,
) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err("mkdir", parent))?;
    }
    let _ = fs::remove_file(path);
    let made = mknod(
        path,
        kind,
        Mode::from_bits_truncate(mode),
        makedev(major, minor),
    );
    // In a user namespace mknod is refused: bind the host's node instead (runc, crun).
    let made = match made {
        Err(nix::Error::EPERM) => crate::runtime::userns::bind_host_device(path, host),
        other => other,
    };
    made.map_err(|e| RootfsError::Io {
        what: "mknod",
        path: path.display().to_string(),
        err: e.into(),
    })?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io_err("chown", path))?;
    }
    Ok(())
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
/// root itself if the spec asks.
pub fn finish(spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let masked = linux
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    for p in &masked {
        let path = Path::new(p);
        match fs::metadata(path) {
            Ok(md) if md.is_dir() => {
                do_mount(Some("tmpfs"), path, Some("tmpfs"), MsFlags::MS_RDONLY, None)?;
            }
            Ok(_) => do_mount(Some("/dev/null"), path, None, MsFlags::MS_BIND, None)?,
            Err(_) => continue,
        }
    }
    let readonly = linux
        .and_then(|l| l.readonly_paths().clone())
        .unwrap_or_default();
    for p in &readonly {
        let path = Path::new(p);
        if fs::symlink_metadata(path).is_err() {
            continue;
        }
        do_mount(
            Some(p),
            path,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        remount(path, MsFlags::MS_RDONLY)?;
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
        let present = |l: &[String]| -> Vec<String> {
            l.iter()
                .filter(|p| Path::new(p).exists())
                .cloned()
                .collect()
        };
        format!(
            "masked (ro tmpfs or /dev/null bound over): {}; read-only (bind + remount ro): {}; root {}",
            present(&masked).join(" "),
            present(&readonly).join(" "),
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
    fn secure_join_keeps_symlinks_inside_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        fs::create_dir_all(r.join("real/dir")).unwrap();
        symlink("/real", r.join("abs")).unwrap();
        symlink("../../../../etc", r.join("real/up")).unwrap();
        symlink("/", r.join("slash")).unwrap();
        assert_eq!(
            secure_join(r, Path::new("/abs/dir")).unwrap(),
            r.join("real/dir")
        );
        assert_eq!(
            secure_join(r, Path::new("/real/up/passwd")).unwrap(),
            r.join("etc/passwd")
        );
        assert_eq!(secure_join(r, Path::new("/slash/x")).unwrap(), r.join("x"));
        assert_eq!(secure_join(r, Path::new("/../../x")).unwrap(), r.join("x"));
        symlink("loop", r.join("loop")).unwrap();
        assert!(secure_join(r, Path::new("/loop")).is_err());
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
