//! CVE-2019-5736: a container must never reach the nsbox binary on the host. Every process
//! that runs nsbox code inside a container's namespaces (init until it execs, `--init`'s
//! pid 1, `exec`'s helper and process) is a fork of the command that started it, so its
//! `/proc/<pid>/exe` is that command's executable. A container root that opens it for
//! writing — or that runs it, via an entry point `#!/proc/self/exe` — could overwrite the
//! host's nsbox.
//!
//! So the commands that run containers first re-execute themselves from a sealed view of
//! their binary, as runc does (`libcontainer/exeseal`):
//!
//! 1. zero-copy, runc's default: a private read-only overlayfs mount of the binary's
//!    directory, made with fsopen/fsmount and never attached anywhere, so nobody can
//!    remount it writable; a write through `/proc/<pid>/exe` fails with EROFS.
//! 2. else, as crun does (`src/libcrun/cloned_binary.c`), a memfd copy sealed against
//!    writing, growing, shrinking and unsealing; a write fails with EPERM (or ETXTBSY).
//!
//! ```text
//!  nsbox run … ─► fsopen overlay, lowerdir=<dir of exe>:<empty dir> ─► fsmount ro ─► openat exe
//!             or  memfd_create ─► copy /proc/self/exe ─► F_ADD_SEALS
//!     ─► execveat(fd, "", argv, envp, AT_EMPTY_PATH) ─► nsbox run … (exe sealed)
//! ```
//!
//! Cost, measured here: the re-exec through the overlay adds ~4-8 ms to `run` (release,
//! 7.4 MB; medians of 30 failing runs: 8.5-11.9 ms before, 16-17 ms after); a memfd copy
//! would add the copy (~220 ms for the 113 MB debug binary, against ~10 ms for the overlay)
//! and keep a copy of the binary in memory for each monitor. Hence the overlay first.

use super::sys;
use nix::fcntl::{fcntl, openat, FcntlArg, OFlag, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, OVERLAYFS_SUPER_MAGIC};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Set across our own re-exec: if the new image is still not sealed, fail instead of looping.
const REEXEC_MARK: &str = "_NSBOX_SEALED_REEXEC";

/// The seals that make the copy read-only for ever.
fn seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// MFD_EXEC (Linux 6.3+): executable even when vm.memfd_noexec asks otherwise.
const MFD_EXEC: libc::c_uint = 0x0010;

#[derive(Debug, thiserror::Error)]
pub enum ClonedBinaryError {
    #[error("sealed copy of the nsbox binary: {0}: {1}")]
    Sys(&'static str, nix::Error),
    #[error("sealed copy of the nsbox binary: {0}: {1}")]
    Io(&'static str, std::io::Error),
    #[error("sealed copy of the nsbox binary: an argument or variable contains a NUL byte")]
    Nul,
    #[error(
        "refusing to run nsbox code in a container from the binary on disk \
         (CVE-2019-5736): call runtime::cloned_binary::ensure_sealed() first"
    )]
    NotSealed,
}

/// The guard of the places that run nsbox code in a container (init, exec's helper): the
/// command must have called `ensure_sealed` at its start.
pub fn require_sealed() -> Result<(), ClonedBinaryError> {
    if is_sealed() {
        return Ok(());
    }
    Err(ClonedBinaryError::NotSealed)
}

/// Whether this process already runs from a sealed view: a sealed memfd, or a file on a
/// read-only overlayfs.
pub fn is_sealed() -> bool {
    let Ok(exe) = File::open("/proc/self/exe") else {
        return false;
    };
    if fcntl(exe.as_fd(), FcntlArg::F_GET_SEALS)
        .is_ok_and(|bits| SealFlag::from_bits_truncate(bits).contains(seals()))
    {
        return true;
    }
    fstatfs(&exe).is_ok_and(|s| s.filesystem_type() == OVERLAYFS_SUPER_MAGIC)
        && fstatvfs(&exe).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY))
}

/// Re-execute this process from a sealed view of its binary (overlay, else memfd), with
/// the same argv and environment, unless it runs from one already. Returns only on failure (or when sealed).
/// Must run before any thread starts and before anything is done that execve would lose.
/// `empty_dir`: an empty directory of ours, the second layer the overlay needs.
pub fn ensure_sealed(empty_dir: &Path) -> Result<(), ClonedBinaryError> {
    let reexec = std::env::var_os(REEXEC_MARK).is_some();
    // Not passed on to what we start (monitor, containers' hooks).
    std::env::remove_var(REEXEC_MARK);
    if is_sealed() {
        return Ok(());
    }
    if reexec {
        return Err(ClonedBinaryError::NotSealed);
    }
    let exe: OwnedFd = match sealed_overlay(empty_dir) {
        Ok(fd) => fd,
        Err(_) => sealed_copy()?.into(),
    };
    let to_c = |v: Vec<std::ffi::OsString>| {
        v.into_iter()
            .map(|s| CString::new(s.into_encoded_bytes()))
            .collect::<Result<Vec<_>, _>>()
    };
    let args = to_c(std::env::args_os().collect()).map_err(|_| ClonedBinaryError::Nul)?;
    let env = to_c(
        std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                kv
            })
            .chain(std::iter::once(format!("{REEXEC_MARK}=1").into()))
            .collect(),
    )
    .map_err(|_| ClonedBinaryError::Nul)?;
    let err = match nix::unistd::execveat(
        exe.as_fd(),
        c"",
        &args,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    ) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    Err(ClonedBinaryError::Sys("execveat", err))
}

/// Our binary seen through a detached read-only overlayfs of its directory (O_PATH).
pub fn sealed_overlay(empty_dir: &Path) -> Result<OwnedFd, ClonedBinaryError> {
    let io = |what| move |e| ClonedBinaryError::Io(what, e);
    let exe = std::fs::read_link("/proc/self/exe").map_err(io("readlink /proc/self/exe"))?;
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        return Err(ClonedBinaryError::Io(
            "exe path",
            std::io::ErrorKind::NotFound.into(),
        ));
    };
    std::fs::create_dir_all(empty_dir).map_err(io("create the empty layer"))?;
    // The binary's directory on top, so a file of its name in the empty layer never hides it.
    let lower = format!(
        "{}:{}",
        escape_lowerdir(&dir.to_string_lossy()),
        escape_lowerdir(&empty_dir.to_string_lossy())
    );
    let lower = CString::new(lower).map_err(|_| ClonedBinaryError::Nul)?;
    let ctx = sys::fsopen(c"overlay").map_err(io("fsopen overlay"))?;
    sys::fsconfig_set_string(ctx.as_fd(), c"lowerdir", &lower).map_err(io("fsconfig lowerdir"))?;
    // Only to keep dmesg quiet when the layers are on different filesystems.
    let _ = sys::fsconfig_set_string(ctx.as_fd(), c"xino", c"off");
    sys::fsconfig_create(ctx.as_fd()).map_err(io("fsconfig create"))?;
    let mnt =
        sys::fsmount(ctx.as_fd(), sys::MOUNT_ATTR_RDONLY_NOSUID_NODEV).map_err(io("fsmount"))?;
    openat(
        mnt.as_fd(),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ClonedBinaryError::Sys("open the binary in the overlay", e))
}

/// overlayfs splits lowerdir on ':' and unescapes '\\'.
fn escape_lowerdir(path: &str) -> String {
    path.replace('\\', "\\\\").replace(':', "\\:")
}

/// A sealed in-memory copy of /proc/self/exe, close-on-exec.
pub fn sealed_copy() -> Result<File, ClonedBinaryError> {
    let mut exe = File::open("/proc/self/exe")
        .map_err(|e| ClonedBinaryError::Io("open /proc/self/exe", e))?;
    let base = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let fd = match memfd_create(c"nsbox", base | MFdFlags::from_bits_retain(MFD_EXEC)) {
        // Kernels before 6.3 do not know MFD_EXEC (and execute memfds anyway).
        Err(nix::Error::EINVAL) => memfd_create(c"nsbox", base),
        other => other,
    }
    .map_err(|e| ClonedBinaryError::Sys("memfd_create", e))?;
    let mut copy = File::from(fd);
    // std uses copy_file_range/sendfile here: the bytes never pass through user space.
    std::io::copy(&mut exe, &mut copy).map_err(|e| ClonedBinaryError::Io("copy", e))?;
    fcntl(copy.as_fd(), FcntlArg::F_ADD_SEALS(seals()))
        .map_err(|e| ClonedBinaryError::Sys("seal", e))?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lowerdir_escapes_separators() {
        assert_eq!(escape_lowerdir("/a:b\\c"), "/a\\:b\\\\c");
    }

    #[test]
    fn the_overlay_view_is_read_only() {
        let empty = tempfile::tempdir().unwrap();
        let Ok(fd) = sealed_overlay(empty.path()) else {
            eprintln!("skipping: no overlayfs through fsopen here");
            return;
        };
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    }

    #[test]
    fn the_copy_is_sealed_against_writes() {
        let mut copy = sealed_copy().unwrap();
        assert!(
            copy.write_all(b"x").is_err(),
            "a sealed copy takes no write"
        );
        assert!(copy.set_len(0).is_err(), "nor shrinks");
        let exe = std::fs::metadata("/proc/self/exe").unwrap().len();
        assert_eq!(copy.metadata().unwrap().len(), exe);
        assert!(!is_sealed(), "the test binary itself runs from disk");
    }
}
