//! An in-process session with one child process, for `exec`: it forwards signals to it,
//! copies the pty when there is one (raw mode on our terminal), and reaps it, turning its
//! end into Docker's exit status (128+N when killed by signal N).

use super::fdio;
use crate::runtime::{process, sys, tty};
use nix::poll::{PollFd, PollFlags};
use nix::sys::signal::Signal;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, BorrowedFd};

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("monitor: {0}")]
    Sys(#[from] nix::Error),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct MonitorOptions {
    /// Forward SIGINT/SIGTERM/... to the container (Docker's --sig-proxy, default on).
    pub sig_proxy: bool,
    /// Copy our stdin into the pty (`-i` with `-t`).
    pub stdin_to_pty: bool,
}

/// How the container's pid 1 ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: i32,
    pub signal: Option<i32>,
}

impl Exit {
    fn from_status(st: WaitStatus) -> Option<Exit> {
        match st {
            WaitStatus::Exited(_, code) => Some(Exit { code, signal: None }),
            WaitStatus::Signaled(_, sig, _) => Some(Exit {
                code: 128 + sig as i32,
                signal: Some(sig as i32),
            }),
            _ => None,
        }
    }
}

/// The process a session watches: our child, its pidfd, and its pty master if it has one.
pub struct Watched<'a> {
    pub pid: i32,
    pub pidfd: BorrowedFd<'a>,
    pub pty_master: Option<BorrowedFd<'a>>,
}

/// Supervise until the process exits.
pub fn supervise(c: &Watched<'_>, opts: MonitorOptions) -> Result<Exit, MonitorError> {
    let signals = SignalFd::with_flags(
        &process::monitored_signals(),
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let master = c.pty_master;
    // Raw mode only when our stdin is a terminal and the container has a pty.
    let _raw = match master {
        Some(m) => {
            tty::sync_winsize(stdin.as_fd(), m);
            tty::RawMode::enter(stdin.as_fd())
        }
        None => None,
    };
    let mut stdin_open = opts.stdin_to_pty && master.is_some();
    let mut buf = vec![0u8; 32 * 1024];

    let exit = loop {
        let mut fds = vec![
            PollFd::new(c.pidfd, PollFlags::POLLIN),
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
        ];
        if let Some(m) = master {
            fds.push(PollFd::new(m, PollFlags::POLLIN));
        }
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        let Some(ready) = fdio::ready(&mut fds)? else {
            continue;
        };
        drop(fds);

        if ready[1] {
            // Non-blocking: drain every pending signal, then back to poll.
            while let Ok(Some(info)) = signals.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == Signal::SIGWINCH as i32 {
                    if let Some(m) = master {
                        tty::sync_winsize(stdin.as_fd(), m);
                    }
                } else if sig != Signal::SIGCHLD as i32 && opts.sig_proxy {
                    let _ = sys::pidfd_send_signal(c.pidfd, sig);
                }
            }
        }
        if let Some(m) = master {
            // EIO here means every slave is closed: pid 1 is exiting.
            if ready[2] {
                let _ = fdio::copy(m, stdout.as_fd(), &mut buf);
            }
        }
        if stdin_open && ready[ready.len() - 1] {
            if let Some(m) = master {
                if fdio::copy(stdin.as_fd(), m, &mut buf).is_none() {
                    stdin_open = false;
                }
            }
        }
        if ready[0] {
            if let Some(exit) =
                Exit::from_status(waitpid(Pid::from_raw(c.pid), Some(WaitPidFlag::WNOHANG))?)
            {
                break exit;
            }
        }
    };
    if let Some(m) = master {
        drain(m, stdout.as_fd(), &mut buf);
    }
    Ok(exit)
}

/// Whatever the container wrote to its pty before exiting.
fn drain(master: BorrowedFd<'_>, to: BorrowedFd<'_>, buf: &mut [u8]) {
    while fdio::readable_now(master) && fdio::copy(master, to, buf).is_some() {}
}
