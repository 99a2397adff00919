//! Paths inside a container root, resolved inside it. Every lookup goes through `pathrs`
//! (openat2 RESOLVE_IN_ROOT, with its safe fallback): a symlink in the image (`dev` ->
//! `/tmp/x`, `etc` -> `../../..`) can never lead outside the root. What is created, opened or
//! mounted on is then held by fd (`/proc/self/fd/N` for mount(2)), never re-resolved from a
//! string (the CVE-2021-30465 class).
//!
//! The second half is a directory walker for trees a container may be changing while we
//! read them (commit, export, diff, copy-up): every step is relative to a directory fd we
//! hold and opened with O_NOFOLLOW, so a symlink swapped in cannot redirect a read.

use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::Mode;
use pathrs::error::ErrorKind;
use pathrs::flags::OpenFlags;
use pathrs::{Handle, InodeType, Root};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata, Permissions};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SafePathError {
    #[error("{what} {path} in the container root: {}", chain(err))]
    Path {
        what: &'static str,
        path: String,
        err: pathrs::error::Error,
    },
    #[error("{what} {path}: {err}")]
    Io {
        what: &'static str,
        path: String,
        err: io::Error,
    },
    #[error("{0} in the image is not a regular file")]
    NotRegular(String),
    #[error("{path} in the image is larger than {limit} bytes")]
    TooLarge { path: String, limit: u64 },
}

type Result<T> = std::result::Result<T, SafePathError>;

impl SafePathError {
    /// Whether the kernel refused the operation with EPERM (mknod in a user namespace).
    pub fn is_eperm(&self) -> bool {
        match self {
            SafePathError::Path { err, .. } => {
                matches!(err.kind(), ErrorKind::OsError(Some(libc::EPERM)))
            }
            SafePathError::Io { err, .. } => err.raw_os_error() == Some(libc::EPERM),
            _ => false,
        }
    }
}

/// An error and its root cause, on one line ("open newly created directory failed: Not a
/// directory (os error 20)").
fn chain(e: &dyn std::error::Error) -> String {
    let mut root = None;
    let mut cur = e.source();
    while let Some(c) = cur {
        root = Some(c);
        cur = c.source();
    }
    match root {
        Some(r) => format!("{e}: {r}"),
        None => e.to_string(),
    }
}

fn perr<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(pathrs::error::Error) -> SafePathError + 'a {
    move |err| SafePathError::Path {
        what,
        path: path.display().to_string(),
        err,
    }
}

fn ioerr<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SafePathError + 'a {
    move |err| SafePathError::Io {
        what,
        path: path.display().to_string(),
        err,
    }
}

fn is_enoent(e: &pathrs::error::Error) -> bool {
    matches!(e.kind(), ErrorKind::OsError(Some(libc::ENOENT)))
}

/// `/proc/self/fd/N`: the path that names exactly the inode behind `fd` (for mount(2) and
/// the other calls that only take a path).
pub fn fd_path(fd: &impl AsFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

/// Metadata of whatever `fd` refers to (an O_PATH fd works: fstat is allowed on it).
pub fn fd_metadata(fd: BorrowedFd<'_>) -> io::Result<Metadata> {
    let f = File::from(fd.try_clone_to_owned()?);
    f.metadata()
}

/// The plain names and `..`s of `p` (`/` and `.` dropped).
fn names_of(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_os_string()),
            std::path::Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// What `InRoot::make_node` creates.
#[derive(Debug, Clone, Copy)]
pub enum NodeKind {
    Char,
    Block,
    Fifo,
}

/// A directory all of whose lookups stay inside it.
pub struct InRoot {
    root: Root,
}

impl InRoot {
    pub fn open(root: &Path) -> Result<Self> {
        Ok(InRoot {
            root: Root::open(root).map_err(perr("open", root))?,
        })
    }

    /// A root at a directory we already hold.
    pub fn from_fd(fd: OwnedFd) -> Self {
        InRoot {
            root: Root::from_fd(fd),
        }
    }

    /// `path` (absolute or not: relative to the root either way), symlinks followed inside
    /// the root; an O_PATH handle.
    pub fn resolve(&self, path: &Path) -> Result<Handle> {
        self.root.resolve(path).map_err(perr("resolve", path))
    }

    /// As `resolve`, but `None` when nothing is there.
    pub fn try_resolve(&self, path: &Path) -> Result<Option<Handle>> {
        match self.root.resolve(path) {
            Ok(h) => Ok(Some(h)),
            Err(e) if is_enoent(&e) => Ok(None),
            Err(e) => Err(perr("resolve", path)(e)),
        }
    }

    /// `mkdir -p` inside the root; directories made get `mode` (minus the umask).
    pub fn mkdir_all(&self, path: &Path, mode: u32) -> Result<Handle> {
        self.root
            .mkdir_all(path, &Permissions::from_mode(mode))
            .map_err(perr("mkdir", path))
    }

    /// The directory at `path`, made (0755) with its parents if missing. A dangling
    /// symlink on the way is followed inside the root and its target made (as runc does).
    pub fn ensure_dir(&self, path: &Path) -> Result<Handle> {
        if let Some(h) = self.try_resolve(path)? {
            return Ok(h);
        }
        self.mkdir_all(&self.target_of(path)?, 0o755)
    }

    /// The file at `path` (anything already there is kept, whatever it is), or a new empty
    /// regular file (0644) with its parent directories made: a mount point for a file bind.
    /// A dangling symlink (`/etc/resolv.conf -> ../run/...`) gets its target made inside.
    pub fn ensure_file(&self, path: &Path) -> Result<Handle> {
        if let Some(h) = self.try_resolve(path)? {
            return Ok(h);
        }
        let target = self.target_of(path)?;
        if let Some(parent) = target.parent() {
            self.ensure_dir(parent)?;
        }
        let flags = OpenFlags::O_WRONLY | OpenFlags::O_CLOEXEC;
        drop(
            self.root
                .create_file(&target, flags, &Permissions::from_mode(0o644))
                .map_err(perr("create", path))?,
        );
        self.resolve(&target)
    }

    /// `path` with every symlink on it replaced by its target, read inside the root and
    /// interpreted as if the root were `/` (missing components are kept as they are): where
    /// a path that does not exist yet should be made. Only ever a name handed back to the
    /// in-root calls above, so a wrong answer (a race) still cannot leave the root.
    fn target_of(&self, path: &Path) -> Result<PathBuf> {
        let mut done = PathBuf::from("/");
        let mut pending: VecDeque<OsString> = names_of(path);
        let mut links = 0;
        while let Some(c) = pending.pop_front() {
            if c == ".." {
                done.pop();
                continue;
            }
            let candidate = done.join(&c);
            match self.root.readlink(&candidate) {
                Ok(target) => {
                    links += 1;
                    if links > 40 {
                        return Err(SafePathError::Io {
                            what: "resolve",
                            path: path.display().to_string(),
                            err: io::Error::from_raw_os_error(libc::ELOOP),
                        });
                    }
                    if target.is_absolute() {
                        done = PathBuf::from("/");
                    }
                    for t in names_of(&target).into_iter().rev() {
                        pending.push_front(t);
                    }
                }
                // Not a symlink, or not there: the name stays.
                Err(_) => done = candidate,
            }
        }
        Ok(done)
    }

    /// Remove what is at `path` (never a directory; missing is fine), then make a device node
    /// or fifo there with exactly `mode` and owner, whatever the umask.
    pub fn make_node(
        &self,
        path: &Path,
        kind: NodeKind,
        mode: u32,
        dev: u64,
        owner: Option<(u32, u32)>,
    ) -> Result<()> {
        if let Some(parent) = path.parent() {
            self.ensure_dir(parent)?;
        }
        self.remove_file(path)?;
        let perm = Permissions::from_mode(mode & 0o7777);
        let inode = match kind {
            NodeKind::Char => InodeType::CharacterDevice(perm, dev),
            NodeKind::Block => InodeType::BlockDevice(perm, dev),
            NodeKind::Fifo => InodeType::Fifo(perm),
        };
        self.root
            .create(path, &inode)
            .map_err(perr("mknod", path))?;
        let h = self
            .root
            .resolve_nofollow(path)
            .map_err(perr("resolve", path))?;
        // Through /proc/self/fd: the node we just made, not whatever the name means now.
        let p = fd_path(&h);
        std::fs::set_permissions(&p, Permissions::from_mode(mode & 0o7777))
            .map_err(ioerr("chmod", path))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&p, Some(uid), Some(gid)).map_err(ioerr("chown", path))?;
        }
        Ok(())
    }

    /// Replace what is at `path` (not a directory) with a symlink to `target`.
    pub fn replace_symlink(&self, path: &Path, target: &Path) -> Result<()> {
        self.remove_file(path)?;
        self.root
            .create(path, &InodeType::Symlink(target.to_path_buf()))
            .map_err(perr("symlink", path))
    }

    /// Unlink the non-directory at `path`; nothing there is fine.
    pub fn remove_file(&self, path: &Path) -> Result<()> {
        match self.root.remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if is_enoent(&e) => Ok(()),
            Err(e) => Err(perr("remove", path)(e)),
        }
    }

    /// The content of a small configuration file of the image (/etc/passwd...): `None` when
    /// missing; an error when it is not a regular file (a fifo would block us forever, a
    /// device feed us without end) or larger than `limit` bytes.
    pub fn read_config_file(&self, path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some(h) = self.try_resolve(path)? else {
            return Ok(None);
        };
        let shown = || path.display().to_string();
        let md = fd_metadata(h.as_fd()).map_err(ioerr("stat", path))?;
        if !md.is_file() {
            return Err(SafePathError::NotRegular(shown()));
        }
        if md.len() > limit {
            return Err(SafePathError::TooLarge {
                path: shown(),
                limit,
            });
        }
        // O_NONBLOCK: should the inode ever be a fifo after all, open does not wait.
        let flags = OpenFlags::O_RDONLY
            | OpenFlags::O_CLOEXEC
            | OpenFlags::from_bits_retain(libc::O_NONBLOCK as u64);
        let f = h.reopen(flags).map_err(perr("open", path))?;
        let md2 = f.metadata().map_err(ioerr("stat", path))?;
        if !md2.is_file() || md2.ino() != md.ino() || md2.dev() != md.dev() {
            return Err(SafePathError::NotRegular(shown()));
        }
        let mut buf = Vec::new();
        f.take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(ioerr("read", path))?;
        if buf.len() as u64 > limit {
            return Err(SafePathError::TooLarge {
                path: shown(),
                limit,
            });
        }
        Ok(Some(buf))
    }
}

/// A directory held open, walked without following any symlink.
pub struct Dir {
    fd: OwnedFd,
}

/// One entry of a `Dir`: its name and its lstat.
pub struct Entry {
    pub name: OsString,
    pub meta: Metadata,
}

fn nix_io(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl Dir {
    /// Open the directory at `path` (a path of ours, e.g. a layer or upper dir; its last
    /// component must not be a symlink).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(nix_io)?;
        Ok(Dir { fd })
    }

    /// The directory `fd` refers to (an O_PATH handle will do), `None` if it is not one.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Option<Dir>> {
        if !fd_metadata(fd.as_fd())?.is_dir() {
            return Ok(None);
        }
        let fd = openat(
            fd.as_fd(),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(nix_io)?;
        Ok(Some(Dir { fd }))
    }

    /// The directory entry `name` of this one, if it is a directory (ELOOP/ENOTDIR if it
    /// is not, e.g. a symlink swapped in).
    pub fn open_dir(&self, name: &OsStr) -> io::Result<Dir> {
        let fd = openat(
            self.fd.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(nix_io)?;
        Ok(Dir { fd })
    }

    /// Like `open_dir`, `None` when nothing (or no directory) is there.
    pub fn try_open_dir(&self, name: &OsStr) -> io::Result<Option<Dir>> {
        match self.open_dir(name) {
            Ok(d) => Ok(Some(d)),
            Err(e) if gone(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The entry `name` without following it; `None` when it is not there.
    pub fn entry(&self, name: &OsStr) -> io::Result<Option<Entry>> {
        let fd = match openat(
            self.fd.as_fd(),
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) if gone(&nix_io(e)) => return Ok(None),
            Err(e) => return Err(nix_io(e)),
        };
        let meta = fd_metadata(fd.as_fd())?;
        Ok(Some(Entry {
            name: name.to_os_string(),
            meta,
        }))
    }

    /// The names in this directory, sorted.
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let d = nix::dir::Dir::from_fd(self.fd.try_clone()?).map_err(nix_io)?;
        let mut names = Vec::new();
        let mut d = d;
        for e in d.iter() {
            let e = e.map_err(nix_io)?;
            let n = e.file_name().to_bytes();
            if n == b"." || n == b".." {
                continue;
            }
            names.push(<OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(n).to_os_string());
        }
        names.sort();
        Ok(names)
    }

    /// The symlink target of entry `name`; `None` if it is gone or no symlink any more (a
    /// running container changed it since we looked).
    pub fn read_link(&self, name: &OsStr) -> io::Result<Option<PathBuf>> {
        match readlinkat(self.fd.as_fd(), name) {
            Ok(t) => Ok(Some(PathBuf::from(t))),
            Err(nix::Error::ENOENT) | Err(nix::Error::EINVAL) => Ok(None),
            Err(e) => Err(nix_io(e)),
        }
    }

    /// Open regular file `name` for reading, never through a symlink and never blocking on
    /// a fifo; `None` if it is gone or no regular file any more (changed since we looked).
    pub fn open_file(&self, name: &OsStr) -> io::Result<Option<File>> {
        let fd = match openat(
            self.fd.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) if gone(&nix_io(e)) || e == nix::Error::ENXIO => return Ok(None),
            Err(e) => return Err(nix_io(e)),
        };
        let f = File::from(fd);
        Ok(f.metadata()?.is_file().then_some(f))
    }

    /// The extended attribute `name` of this directory.
    pub fn xattr(&self, name: &str) -> io::Result<Vec<u8>> {
        super::sys::fgetxattr(self.fd.as_fd(), name)
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// "Not there (any more)": ENOENT, or ENOTDIR/ELOOP when what is there is no directory.
fn gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ELOOP)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn lookups_stay_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        let root = t.path().join("root");
        fs::create_dir_all(&outside).unwrap();
        fs::create_dir_all(root.join("real")).unwrap();
        symlink(&outside, root.join("dev")).unwrap();
        symlink("../../../..", root.join("real/up")).unwrap();
        let r = InRoot::open(&root).unwrap();
        // `dev` dangles inside the root: its target is made inside, nothing outside.
        let inside = root.join(outside.strip_prefix("/").unwrap());
        r.ensure_dir(Path::new("/dev/pts")).unwrap();
        r.ensure_file(Path::new("/real/up/etc/hosts")).unwrap();
        r.replace_symlink(Path::new("/dev/fd"), Path::new("/proc/self/fd"))
            .unwrap();
        r.make_node(Path::new("/dev/null"), NodeKind::Char, 0o666, 0x103, None)
            .ok(); // EPERM when not root
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        assert!(inside.join("pts").is_dir());
        assert!(fs::symlink_metadata(inside.join("fd"))
            .unwrap()
            .is_symlink());
        assert!(root.join("etc/hosts").is_file());
        symlink("../run/x/resolv.conf", root.join("etc/resolv.conf")).unwrap();
        r.ensure_file(Path::new("/etc/resolv.conf")).unwrap();
        assert!(root.join("run/x/resolv.conf").is_file());
        symlink("loop", root.join("loop")).unwrap();
        assert!(r.ensure_dir(Path::new("/loop/x")).is_err());
    }

    #[test]
    fn config_files_must_be_small_and_regular() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        fs::write(root.join("etc/big"), vec![b'x'; 100]).unwrap();
        nix::unistd::mkfifo(&root.join("etc/group"), Mode::from_bits_truncate(0o644)).unwrap();
        let r = InRoot::open(root).unwrap();
        let p = r.read_config_file(Path::new("/etc/passwd"), 64).unwrap();
        assert!(p.is_some());
        assert!(r
            .read_config_file(Path::new("/etc/none"), 64)
            .unwrap()
            .is_none());
        assert!(matches!(
            r.read_config_file(Path::new("/etc/group"), 64),
            Err(SafePathError::NotRegular(_))
        ));
        assert!(matches!(
            r.read_config_file(Path::new("/etc/big"), 64),
            Err(SafePathError::TooLarge { .. })
        ));
    }

    #[test]
    fn dir_walk_never_follows_links() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(d.join("sub/f"), "x").unwrap();
        symlink("/etc", d.join("link")).unwrap();
        let dir = Dir::open(d).unwrap();
        assert_eq!(
            dir.names().unwrap(),
            vec![OsString::from("link"), "sub".into()]
        );
        assert!(dir.try_open_dir(OsStr::new("link")).unwrap().is_none());
        let e = dir.entry(OsStr::new("link")).unwrap().unwrap();
        assert!(e.meta.file_type().is_symlink());
        assert_eq!(
            dir.read_link(OsStr::new("link")).unwrap().as_deref(),
            Some(Path::new("/etc"))
        );
        assert!(dir.read_link(OsStr::new("sub")).unwrap().is_none());
        let sub = dir.open_dir(OsStr::new("sub")).unwrap();
        let f = sub.entry(OsStr::new("f")).unwrap().unwrap();
        assert!(f.meta.is_file());
        assert!(sub.open_file(OsStr::new("f")).unwrap().is_some());
        assert!(dir.open_file(OsStr::new("link")).unwrap().is_none());
        assert!(dir.open_file(OsStr::new("sub")).unwrap().is_none());
    }
}
