//! The attached client: what `nsbox run` (without `-d`) does while the monitor supervises.
//! It owns the user's terminal: raw mode (restored on every way out), stdin into the pty,
//! window size changes, the detach keys, and signals proxied to the container.

use super::fdio;
use super::{MonitorError, ToClient, ToMonitor};
use crate::runtime::channel::Channel;
use crate::runtime::{process, tty};
use nix::poll::{PollFd, PollFlags};
use nix::sys::signal::Signal;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::{AsFd, OwnedFd};

/// Docker's default detach sequence: Ctrl-P Ctrl-Q.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Forward SIGINT, SIGTERM, ... to the container (`--sig-proxy`).
    pub sig_proxy: bool,
    /// Copy our stdin into the container: into its pty (`-i` with `-t`), or as messages to
    /// the monitor (`attach` to a container without a pty).
    pub stdin: bool,
    /// The detach sequence, as bytes.
    pub detach_keys: Vec<u8>,
}

/// How an attached session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Detached,
}

/// Parse Docker's `--detach-keys`: comma-separated `ctrl-<c>` or single characters.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("Invalid detach keys ({s}) provided");
    s.split(',')
        .map(|k| {
            if let Some(c) = k.strip_prefix("ctrl-") {
                let c = c.as_bytes();
                match c {
                    [b @ (b'a'..=b'z')] => Ok(b - b'a' + 1),
                    [b @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_')] => Ok(b & 0x1f),
                    _ => Err(bad()),
                }
            } else if k.len() == 1 {
                Ok(k.as_bytes()[0])
            } else {
                Err(bad())
            }
        })
        .collect()
}

/// Stay attached until the container exits or the user detaches.
/// `attach_session`: connected through the attach socket (`nsbox attach`), so output comes
/// as messages; otherwise the monitor writes to our stdout and stderr itself.
pub fn attach(
    chan: &Channel,
    master: Option<OwnedFd>,
    opts: &ClientOptions,
    attach_session: bool,
) -> Result<End, MonitorError> {
    let mut proxied = process::monitored_signals();
    proxied.remove(Signal::SIGCHLD);
    let signals = SignalFd::with_flags(&proxied, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    let stdin = std::io::stdin();
    let master = master.as_ref().map(|m| m.as_fd());
    let _raw = master.and_then(|m| {
        tty::sync_winsize(stdin.as_fd(), m);
        tty::RawMode::enter(stdin.as_fd())
    });
    // Without a pty, a foreground container reads our stdin itself; an attach session
    // has to send it through the monitor.
    let stdin_via_monitor = master.is_none() && opts.stdin && attach_session;
    let mut stdin_open = opts.stdin && (master.is_some() || stdin_via_monitor);
    let mut keys = DetachMatcher::new(&opts.detach_keys);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut fds = vec![
            PollFd::new(chan.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        let Some(ready) = fdio::ready(&mut fds)? else {
            continue;
        };
        drop(fds);
        if ready[1] {
            while let Ok(Some(info)) = signals.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == Signal::SIGWINCH as i32 {
                    if let Some(m) = master {
                        tty::sync_winsize(stdin.as_fd(), m);
                    }
                } else if opts.sig_proxy {
                    chan.send(&ToMonitor::Signal(sig), None)?;
                }
            }
        }
        if stdin_open && ready[2] {
            match fdio::read_some(stdin.as_fd(), &mut buf) {
                Some(n) => {
                    let (pass, detach) = keys.feed(&buf[..n]);
                    if let Some(m) = master {
                        let _ = fdio::write_all(m, &pass);
                    } else if stdin_via_monitor && !pass.is_empty() {
                        chan.send(&ToMonitor::Stdin(pass), None)?;
                    }
                    if detach {
                        chan.send(&ToMonitor::Detach, None)?;
                        return Ok(End::Detached);
                    }
                }
                None => stdin_open = false,
            }
        }
        if ready[0] {
            match chan.recv::<ToClient>()? {
                Some((ToClient::Exited { code }, _)) => return Ok(End::Exited(code)),
                Some((ToClient::Failed { code, msg }, _)) => {
                    return Err(MonitorError::Failed { code, msg })
                }
                Some((ToClient::Output { stream, data }, _)) => {
                    let (out, err) = (std::io::stdout(), std::io::stderr());
                    let fd = if stream == 2 {
                        err.as_fd()
                    } else {
                        out.as_fd()
                    };
                    let _ = fdio::write_all(fd, &data);
                }
                Some(_) => {}
                None => return Err(MonitorError::Gone),
            }
        }
    }
}

/// Finds the detach sequence in typed input. Bytes that might start it are held back until
/// the sequence completes (detach) or breaks (they are passed on after all).
pub struct DetachMatcher {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachMatcher {
    pub fn new(keys: &[u8]) -> Self {
        DetachMatcher {
            keys: keys.to_vec(),
            matched: 0,
        }
    }

    /// The bytes to pass on, and whether the sequence is complete.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = usize::from(b == self.keys[0]);
                if self.matched == 0 {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys(DEFAULT_DETACH_KEYS), Ok(vec![0x10, 0x11]));
        assert_eq!(parse_detach_keys("ctrl-a,x"), Ok(vec![1, b'x']));
        assert_eq!(parse_detach_keys("ctrl-@"), Ok(vec![0]));
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("alt-x").is_err());
    }

    #[test]
    fn matcher_holds_back_a_prefix_and_detaches() {
        let mut m = DetachMatcher::new(&[0x10, 0x11]);
        assert_eq!(m.feed(b"ls\r"), (b"ls\r".to_vec(), false));
        assert_eq!(m.feed(&[0x10]), (vec![], false));
        assert_eq!(m.feed(b"a"), (vec![0x10, b'a'], false));
        assert_eq!(m.feed(&[b'x', 0x10, 0x10, 0x11]), (vec![b'x', 0x10], true));
        let mut none = DetachMatcher::new(&[]);
        assert_eq!(none.feed(&[0x10, 0x11]), (vec![0x10, 0x11], false));
    }
}
