//! A typed message channel between the launcher and the container's init, over a
//! SOCK_SEQPACKET socketpair (one message per datagram, so no framing), carrying
//! serde messages and, when needed, one file descriptor (SCM_RIGHTS).
//!
//! Both ends are close-on-exec: when init execs the user's command its end closes, so
//! the launcher reading EOF *is* the signal that exec succeeded.

use super::sys;
use nix::sys::socket::{
    self, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("channel: {0}")]
    Sys(#[from] nix::Error),
    #[error("channel: bad message: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("channel: peer closed while waiting for {0}")]
    Closed(&'static str),
}

/// Launcher → init.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToInit {
    /// The cgroup is joined: go on and build the container.
    Proceed,
    /// Exec the user's process now.
    Start,
    /// The launcher leaves (`nsbox-runtime create`): wait for `start` on the exec fifo that
    /// travels with this message (an O_PATH fd), then exec. `preserve_fds` more fds above
    /// stdio (3, 4, …) stay open across exec.
    StartOnFifo { preserve_fds: u32 },
}

/// Init → launcher.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromInit {
    /// The container is built and waits for `Start`; the pty master travels with it.
    Ready,
    /// The seccomp notify fd travels with it (the profile has a listenerPath): for the
    /// launcher to send on to the agent; init has closed its copy.
    SeccompNotify,
    /// Setup or exec failed; `code` is the exit code nsbox should end with.
    Failed { code: i32, msg: String },
    /// `exec`'s helper forked the process: its pid, as the caller's pid namespace sees it.
    Pid(i32),
}

pub struct Channel {
    fd: OwnedFd,
}

impl From<OwnedFd> for Channel {
    fn from(fd: OwnedFd) -> Self {
        Channel { fd }
    }
}

impl AsRawFd for Channel {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl std::os::fd::AsFd for Channel {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// One end for each side.
pub fn pair() -> Result<(Channel, Channel), ChannelError> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send<T: Serialize>(&self, msg: &T, fd: Option<RawFd>) -> Result<(), ChannelError> {
        let bytes = serde_json::to_vec(msg)?;
        let fds: Vec<RawFd> = fd.into_iter().collect();
        let cmsgs: Vec<ControlMessage> = if fds.is_empty() {
            Vec::new()
        } else {
            vec![ControlMessage::ScmRights(&fds)]
        };
        socket::sendmsg::<()>(
            self.fd.as_raw_fd(),
            &[IoSlice::new(&bytes)],
            &cmsgs,
            MsgFlags::empty(),
            None,
        )?;
        Ok(())
    }

    /// The next message, or None on EOF (the peer exec'd or died).
    pub fn recv<T: for<'de> Deserialize<'de>>(
        &self,
    ) -> Result<Option<(T, Option<OwnedFd>)>, ChannelError> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg_space = nix::cmsg_space!([RawFd; 1]);
        let (len, fd) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match socket::recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg_space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => {
                    let mut fd = None;
                    for c in msg.cmsgs()? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            fd = fds.first().map(|&raw| sys::own_received_fd(raw));
                        }
                    }
                    break (msg.bytes, fd);
                }
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if len == 0 {
            return Ok(None);
        }
        Ok(Some((serde_json::from_slice(&buf[..len])?, fd)))
    }

    /// Like `recv`, but EOF is an error naming what we waited for.
    pub fn expect<T: for<'de> Deserialize<'de>>(
        &self,
        what: &'static str,
    ) -> Result<(T, Option<OwnedFd>), ChannelError> {
        self.recv()?.ok_or(ChannelError::Closed(what))
    }
}
