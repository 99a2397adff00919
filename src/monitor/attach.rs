//! The monitor's attach point: a unix socket `<container dir>/attach.sock` that
//! `nsbox attach` connects to while the container runs. Each client gets the container's
//! output as messages (and, with a pty, the master itself for typing and resizing); it
//! sends stdin, signals, or its detach.
//!
//! The socket is bound and reached through `/proc/self/fd/<dir fd>/attach.sock`, because the
//! container dir's path is longer than a socket address may be (108 bytes).

use crate::runtime::channel::Channel;
use nix::sys::socket::{
    accept4, bind, connect, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

const NAME: &str = "attach.sock";

fn address(dir: &File) -> nix::Result<UnixAddr> {
    UnixAddr::new(format!("/proc/self/fd/{}/{NAME}", dir.as_raw_fd()).as_str())
}

/// The listening side, in the monitor.
pub struct AttachPoint {
    listener: OwnedFd,
    dir: File,
}

impl AttachPoint {
    pub fn bind(dir: &Path) -> nix::Result<Self> {
        let dir =
            File::open(dir).map_err(|e| nix::Error::try_from(e).unwrap_or(nix::Error::EIO))?;
        let _ = nix::unistd::unlinkat(&dir, NAME, nix::unistd::UnlinkatFlags::NoRemoveDir);
        let listener = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )?;
        bind(listener.as_raw_fd(), &address(&dir)?)?;
        // Only root may connect (the container dir is closed too; this is the second lock).
        nix::sys::stat::fchmodat(
            &dir,
            NAME,
            nix::sys::stat::Mode::from_bits_truncate(crate::dataroot::PRIVATE_FILE_MODE),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )?;
        listen(&listener, Backlog::new(8)?)?;
        Ok(AttachPoint { listener, dir })
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// A waiting client, if any.
    pub fn accept(&self) -> Option<Channel> {
        let fd = accept4(&self.listener, SockFlag::SOCK_CLOEXEC).ok()?;
        Some(Channel::from(fd))
    }
}

impl Drop for AttachPoint {
    /// No socket file outlives the monitor: a stale one would look attachable.
    fn drop(&mut self) {
        let _ = nix::unistd::unlinkat(&self.dir, NAME, nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
}

/// The client side: connect to a running container's monitor.
pub fn connect_to(dir: &Path) -> nix::Result<Channel> {
    let dir = File::open(dir).map_err(|e| nix::Error::try_from(e).unwrap_or(nix::Error::EIO))?;
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    connect(fd.as_raw_fd(), &address(&dir)?)?;
    Ok(Channel::from(fd))
}
