//! Docker's volume copy-up: the content an image has at a mount point is copied into a new,
//! empty volume before the volume hides it, keeping ownership, modes, symlinks and times.

use crate::runtime::safepath::{fd_metadata, Dir, Entry};
use nix::fcntl::AT_FDCWD;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::sys::time::TimeSpec;
use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("copy {path} into the volume: {err}")]
pub struct CopyError {
    path: String,
    err: std::io::Error,
}

fn err<'a>(path: &'a Path) -> impl FnOnce(std::io::Error) -> CopyError + 'a {
    move |err| CopyError {
        path: path.display().to_string(),
        err,
    }
}

/// Whether a directory has no entries (a missing one counts as empty).
pub fn is_empty_dir(dir: &Path) -> bool {
    fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

/// Copy the contents of directory `src` into the existing directory `dst`, then give `dst`
/// the owner and mode of `src` (moby's copyExistingContents + copyOwnership). `src` is a
/// directory resolved inside the container's root and held by fd (anything else copies
/// nothing, as in Docker); below it, no symlink is followed.
pub fn copy_up_from(src: impl Into<OwnedFd>, dst: &Path) -> Result<(), CopyError> {
    let shown = Path::new("<image content>");
    match Dir::from_fd(src.into()).map_err(err(shown))? {
        Some(dir) => copy_dir_into(&dir, shown, dst),
        None => Ok(()),
    }
}

fn copy_dir_into(dir: &Dir, shown: &Path, dst: &Path) -> Result<(), CopyError> {
    for name in dir.names().map_err(err(shown))? {
        let src = shown.join(&name);
        let Some(e) = dir.entry(&name).map_err(err(&src))? else {
            continue; // gone while we looked
        };
        copy_entry(dir, &e, &src, &dst.join(&name))?;
    }
    let md = fd_metadata(dir.as_fd()).map_err(err(shown))?;
    copy_attrs(&md, dst)
}

fn copy_entry(dir: &Dir, e: &Entry, src: &Path, dst: &Path) -> Result<(), CopyError> {
    let md = &e.meta;
    let ft = md.file_type();
    if ft.is_dir() {
        fs::create_dir(dst).map_err(err(dst))?;
        let sub = dir.open_dir(&e.name).map_err(err(src))?;
        return copy_dir_into(&sub, src, dst);
    }
    if ft.is_symlink() {
        let Some(target) = dir.read_link(&e.name).map_err(err(src))? else {
            return Ok(()); // changed since it was listed
        };
        std::os::unix::fs::symlink(target, dst).map_err(err(dst))?;
    } else if ft.is_file() {
        let Some(mut from) = dir.open_file(&e.name).map_err(err(src))? else {
            return Ok(()); // changed since it was listed
        };
        let mut to = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dst)
            .map_err(err(dst))?;
        std::io::copy(&mut from, &mut to).map_err(err(dst))?;
    } else {
        // Devices, fifos and sockets: the node itself, as `cp -a` does.
        let kind = SFlag::from_bits_truncate(md.mode() & SFlag::S_IFMT.bits());
        let dev = makedev(
            nix::sys::stat::major(md.rdev()),
            nix::sys::stat::minor(md.rdev()),
        );
        mknod(dst, kind, Mode::from_bits_truncate(md.mode()), dev)
            .map_err(|e| err(dst)(e.into()))?;
    }
    copy_attrs(md, dst)
}

/// Owner, mode (not for symlinks) and times of `md` onto `dst`, without following links.
fn copy_attrs(md: &fs::Metadata, dst: &Path) -> Result<(), CopyError> {
    std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid())).map_err(err(dst))?;
    if !md.file_type().is_symlink() {
        // After chown: chown clears setuid/setgid bits.
        fs::set_permissions(dst, fs::Permissions::from_mode(md.mode() & 0o7777))
            .map_err(err(dst))?;
    }
    let times = [
        TimeSpec::new(md.atime(), md.atime_nsec()),
        TimeSpec::new(md.mtime(), md.mtime_nsec()),
    ];
    nix::sys::stat::utimensat(
        AT_FDCWD,
        dst,
        &times[0],
        &times[1],
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| err(dst)(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_tree_with_links_modes_and_owners() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let s = src.path();
        fs::create_dir(s.join("sub")).unwrap();
        fs::write(s.join("sub/f"), "hello").unwrap();
        fs::set_permissions(s.join("sub/f"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("sub/f", s.join("link")).unwrap();
        fs::set_permissions(s, fs::Permissions::from_mode(0o1777)).unwrap();
        let root = nix::unistd::geteuid().is_root();
        if root {
            std::os::unix::fs::chown(s.join("sub/f"), Some(1234), Some(5678)).unwrap();
        }
        assert!(is_empty_dir(dst.path()));
        copy_up_from(fs::File::open(s).unwrap(), dst.path()).unwrap();
        let d = dst.path();
        assert_eq!(fs::read_to_string(d.join("sub/f")).unwrap(), "hello");
        assert_eq!(fs::read_link(d.join("link")).unwrap(), Path::new("sub/f"));
        let md = fs::metadata(d.join("sub/f")).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o640);
        assert_eq!(fs::metadata(d).unwrap().mode() & 0o7777, 0o1777);
        if root {
            assert_eq!((md.uid(), md.gid()), (1234, 5678));
        }
        assert!(!is_empty_dir(d));
    }
}
