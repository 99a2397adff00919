//! Terminals. Inside the container: a pty from the container's own devpts instance,
//! made the controlling terminal of pid 1. On the host: raw mode, restored on drop.

use super::sys;
use crate::explain;
use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::dup2_stdin;
use std::fs::OpenOptions;
use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TtyError {
    #[error("pty: {0}")]
    Pty(nix::Error),
    #[error("pty: {0}")]
    Io(#[from] std::io::Error),
}

/// In the container, after pivot_root: open a pty pair on /dev/ptmx (the container's
/// devpts), make the slave our controlling terminal and stdio, bind it over /dev/console.
/// Returns the master, for the launcher.
/// `console`: also bind it over /dev/console (pid 1's pty; not for `exec`, whose mount would
/// change the container's /dev for everyone).
pub fn open_container_pty(console: bool) -> Result<OwnedFd, TtyError> {
    let master =
        posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).map_err(TtyError::Pty)?;
    grantpt(&master).map_err(TtyError::Pty)?;
    unlockpt(&master).map_err(TtyError::Pty)?;
    let name = ptsname_r(&master).map_err(TtyError::Pty)?;
    let slave = OpenOptions::new().read(true).write(true).open(&name)?;
    sys::set_controlling_tty(slave.as_fd())?;
    dup2_stdin(&slave).map_err(TtyError::Pty)?;
    nix::unistd::dup2_stdout(&slave).map_err(TtyError::Pty)?;
    nix::unistd::dup2_stderr(&slave).map_err(TtyError::Pty)?;
    // /dev/console, as Docker provides with -t: a bind of our pty slave.
    let path = Path::new("/dev/console");
    if console && std::fs::symlink_metadata(path).is_err() {
        let _ = std::fs::File::create(path);
    }
    if console {
        let _ = nix::mount::mount(
            Some(name.as_str()),
            path,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        );
    }
    explain::step("tty", || {
        format!("pty {name} from the container's devpts is pid 1's controlling terminal and stdio")
    });
    let _ = slave.into_raw_fd(); // stays open as fds 0-2; the original number is closed at exec
    Ok(OwnedFd::from(master))
}

/// Puts a host terminal in raw mode; restores it when dropped.
pub struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawMode<'a> {
    /// None when `fd` is not a terminal.
    pub fn enter(fd: BorrowedFd<'a>) -> Option<Self> {
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// Copy the host terminal's size onto the pty master.
pub fn sync_winsize(host: BorrowedFd<'_>, master: BorrowedFd<'_>) {
    if let Some(ws) = sys::get_winsize(host) {
        let _ = sys::set_winsize(master, &ws);
    }
}
