//! The launcher side of creating a container: clone init into new namespaces, place it
//! in its cgroup, wait until it has built the container, then let it exec.

use super::cgroups::Cgroup;
use super::channel::{self, Channel, FromInit, ToInit};
use super::{init, namespaces, seccomp, sys, unsupported, userns, RuntimeError};
use crate::explain;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Signals the monitor handles: proxied to the container (and SIGWINCH for the pty).
/// They are blocked before clone so none is lost; init unblocks them before exec.
pub fn monitored_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    set
}

/// The container's stdin, stdout and stderr: fds of ours that init puts at 0, 1 and 2 just
/// before exec (None: keep what init inherited). Ignored for a terminal: the pty wins.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdio {
    pub fds: [Option<RawFd>; 3],
}

impl Stdio {
    /// Put the fds at 0, 1 and 2 (in the child, just before exec).
    pub fn install(&self) -> std::io::Result<()> {
        for (target, fd) in self.fds.iter().enumerate() {
            if let Some(fd) = fd {
                sys::dup2(*fd, target as i32)?;
            }
        }
        Ok(())
    }
}

/// A container whose init has built everything and waits for `start`.
pub struct Launched {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub pty_master: Option<OwnedFd>,
    pub cgroup: Option<Cgroup>,
    chan: Channel,
    /// The seccomp agent init's notify fd goes to, with what its state message names.
    listener: Option<(seccomp::Listener, String, PathBuf)>,
}

/// Clone the container's init and let it build the container; return once it waits
/// for `start`. On failure the child is reaped and nothing of it remains.
pub fn create(
    spec: &Spec,
    rootfs: &Path,
    id: &str,
    stdio: Stdio,
) -> Result<Launched, RuntimeError> {
    create_with(spec, rootfs, id, stdio, false)
}

/// `create`, for a caller that runs the spec's runtime-namespace hooks itself
/// (`runs_hooks`; see `hooks`).
pub fn create_with(
    spec: &Spec,
    rootfs: &Path,
    id: &str,
    stdio: Stdio,
    runs_hooks: bool,
) -> Result<Launched, RuntimeError> {
    unsupported::check(spec, runs_hooks)?;
    let ns = namespaces::plan(spec)?;
    let user_ns = userns::plan(spec)?;
    // Built here, before clone: a bad profile fails before any process exists.
    let filter = seccomp::prepare(spec)?;
    let cgroup = Cgroup::create(spec, id)?;
    let (ours, theirs) = channel::pair()?;
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&monitored_signals()), None)?;

    // A pid namespace joined by path only takes our children; a new user namespace would
    // lose the right to join namespaces owned by ours: both are joined before the clone,
    // by a short-lived joiner.
    let via_joiner = ns.joins_pid()
        || (ns.clone_flags.contains(CloneFlags::CLONE_NEWUSER) && !ns.join.is_empty());
    let forked = if via_joiner {
        clone_through_joiner(&ns)
    } else {
        sys::clone_fork(ns.clone_flags.bits() as u64, None).map_err(RuntimeError::Clone)
    };
    let forked = match forked {
        Ok(f) => f,
        Err(e) => {
            if let Some(cg) = cgroup {
                let _ = cg.remove();
            }
            return Err(e);
        }
    };
    let (pid, pidfd) = match forked {
        sys::Forked::Child => {
            drop(ours);
            let mut ns = ns;
            if via_joiner {
                ns.join.clear(); // the joiner did it; we were born inside
            }
            init::run(
                spec,
                rootfs,
                id,
                ns,
                theirs,
                stdio,
                cgroup.as_ref(),
                filter.as_ref(),
            )
        }
        sys::Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop(theirs);
    explain::step("clone", || {
        let mut flags = namespaces::describe(ns.clone_flags);
        if ns.new_cgroupns {
            flags.push_str(" (+CLONE_NEWCGROUP by init after it joins its cgroup)");
        }
        format!("{flags} → pid {pid} (pid 1 inside)")
    });
    let mut launched = Launched {
        pid,
        pidfd,
        pty_master: None,
        cgroup,
        chan: ours,
        listener: filter.and_then(|f| f.listener).map(|l| {
            // The bundle: the directory holding the rootfs (runc's state.bundle).
            let bundle = rootfs.parent().unwrap_or(rootfs).to_path_buf();
            (l, id.to_string(), bundle)
        }),
    };

    // A new user namespace: its maps are written while init waits, and init gets the
    // rootfs idmapped through it along with Proceed.
    let idmapped = match &user_ns {
        Some(plan) => match userns::write_maps(pid, plan)
            .and_then(|()| {
                let dirs = launched
                    .cgroup
                    .as_ref()
                    .map(|c| c.dirs())
                    .unwrap_or_default();
                userns::delegate_cgroup(&dirs, plan)
            })
            .and_then(|()| userns::idmapped_rootfs(pid, rootfs))
        {
            Ok(tree) => tree,
            Err(e) => {
                launched.kill_and_reap();
                return Err(e.into());
            }
        },
        None => None,
    };
    // Init joins its cgroup itself (see Cgroup::join_self); it may go on once we are here.
    let tree_fd = idmapped.as_ref().map(|t| t.as_raw_fd());
    if let Err(e) = launched.chan.send(&ToInit::Proceed, tree_fd) {
        launched.kill_and_reap();
        return Err(e.into());
    }
    drop(idmapped);
    let got = loop {
        match launched.chan.expect::<FromInit>("the container's setup") {
            Ok((FromInit::SeccompNotify, fd)) => {
                if let Err(e) = launched.hand_to_listener(fd) {
                    launched.kill_and_reap();
                    return Err(e);
                }
            }
            other => break other,
        }
    };
    match got {
        Ok((FromInit::SeccompNotify, _)) => Err(RuntimeError::Protocol("unexpected notify")),
        Ok((FromInit::Pid(_), _)) => Err(RuntimeError::Protocol("unexpected Pid")),
        Ok((FromInit::Ready, fd)) => {
            launched.pty_master = fd;
            Ok(launched)
        }
        Ok((FromInit::Failed { code, msg }, _)) => {
            launched.reap();
            Err(RuntimeError::Init { code, msg })
        }
        Err(e) => {
            launched.kill_and_reap();
            Err(e.into())
        }
    }
}

/// Clone init into a pid namespace given by path. setns(CLONE_NEWPID) only places the
/// caller's *children* there, and the launcher must not join anything itself, so a
/// short-lived joiner (as runc's nsexec) joins every namespace of the plan and clones init
/// with CLONE_PARENT: init is still the launcher's child. The joiner hands back init's pid
/// and pidfd and exits. Returns `Child` in init, `Parent` in the launcher. Also used when
/// init gets a new user namespace: from inside it, namespaces owned by ours cannot be
/// joined (EPERM), so they are joined first and the user namespace made by the clone.
fn clone_through_joiner(ns: &namespaces::NamespacePlan) -> Result<sys::Forked, RuntimeError> {
    let (up, down) = channel::pair()?;
    match sys::clone_fork(0, None).map_err(RuntimeError::Clone)? {
        sys::Forked::Child => {
            drop(up);
            let cloned = namespaces::join_all(ns)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    let flags = ns.clone_flags.bits() as u64 | libc::CLONE_PARENT as u64;
                    sys::clone_fork(flags, None).map_err(|e| format!("clone: {e}"))
                });
            match cloned {
                Ok(sys::Forked::Child) => Ok(sys::Forked::Child),
                Ok(sys::Forked::Parent { pid, pidfd }) => {
                    let _ = down.send(&Ok::<i32, String>(pid), Some(pidfd.as_raw_fd()));
                    sys::exit_now(0)
                }
                Err(msg) => {
                    let _ = down.send(&Err::<i32, String>(msg), None);
                    sys::exit_now(1)
                }
            }
        }
        sys::Forked::Parent { pid: joiner, .. } => {
            drop(down);
            let got = up.expect::<Result<i32, String>>("the namespace joiner");
            let _ = waitpid(Pid::from_raw(joiner), None);
            match got? {
                (Ok(pid), Some(pidfd)) => Ok(sys::Forked::Parent { pid, pidfd }),
                (Ok(_), None) => Err(RuntimeError::Protocol("no pidfd from the joiner")),
                (Err(msg), _) => Err(RuntimeError::Init { code: 125, msg }),
            }
        }
    }
}

impl Launched {
    /// Let init exec the user's process. Ok once exec succeeded (init's end of the
    /// channel closed on exec); the exec error with Docker's exit code otherwise.
    pub fn start(&mut self) -> Result<(), RuntimeError> {
        self.chan.send(&ToInit::Start, None)?;
        // With no_new_privs the filter is loaded just before exec: its notify fd comes now.
        let got = loop {
            match self.chan.recv::<FromInit>() {
                Ok(Some((FromInit::SeccompNotify, fd))) => {
                    if let Err(e) = self.hand_to_listener(fd) {
                        self.kill_and_reap();
                        return Err(e);
                    }
                }
                other => break other,
            }
        };
        match got {
            Ok(None) => Ok(()),
            Ok(Some((FromInit::SeccompNotify, _))) => {
                Err(RuntimeError::Protocol("unexpected notify"))
            }
            Ok(Some((FromInit::Failed { code, msg }, _))) => {
                self.reap();
                Err(RuntimeError::Init { code, msg })
            }
            Ok(Some((FromInit::Ready, _))) => Err(RuntimeError::Protocol("unexpected Ready")),
            Ok(Some((FromInit::Pid(_), _))) => Err(RuntimeError::Protocol("unexpected Pid")),
            Err(e) => Err(e.into()),
        }
    }

    /// Leave init waiting on the exec fifo `fifo` (made by the caller) and let it go: the
    /// launcher may exit now, and whoever opens the fifo for reading starts the process
    /// (`nsbox-runtime start`). Init's parent becomes our caller's subreaper when we exit.
    pub fn start_on_fifo(mut self, fifo: &Path, preserve_fds: u32) -> Result<(), RuntimeError> {
        if self.listener.is_some() {
            self.kill_and_reap();
            return Err(RuntimeError::Protocol(
                "a seccomp notify listener needs the launcher alive until start",
            ));
        }
        use std::os::unix::fs::OpenOptionsExt;
        let fd = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(fifo);
        let fd = match fd {
            Ok(fd) => fd,
            Err(e) => {
                self.kill_and_reap();
                return Err(RuntimeError::Fifo(fifo.to_path_buf(), e));
            }
        };
        if let Err(e) = self
            .chan
            .send(&ToInit::StartOnFifo { preserve_fds }, Some(fd.as_raw_fd()))
        {
            self.kill_and_reap();
            return Err(e.into());
        }
        drop(fd);
        // Init checks the command first: Ready again means it waits on the fifo.
        match self.chan.expect::<FromInit>("the exec fifo wait") {
            Ok((FromInit::Ready, _)) => Ok(()),
            Ok((FromInit::Failed { code, msg }, _)) => {
                self.reap();
                Err(RuntimeError::Init { code, msg })
            }
            Ok(_) => {
                self.kill_and_reap();
                Err(RuntimeError::Protocol(
                    "unexpected message on the fifo wait",
                ))
            }
            Err(e) => {
                self.kill_and_reap();
                Err(e.into())
            }
        }
    }

    /// Send init's seccomp notify fd (and the container state) to the profile's agent.
    fn hand_to_listener(&self, fd: Option<OwnedFd>) -> Result<(), RuntimeError> {
        let fd = fd.ok_or(RuntimeError::Protocol(
            "no fd with the seccomp notify message",
        ))?;
        let (listener, id, bundle) = self.listener.as_ref().ok_or(RuntimeError::Protocol(
            "a seccomp notify fd without a listener",
        ))?;
        listener.hand_over(fd, id, self.pid, bundle)?;
        Ok(())
    }

    pub fn kill_and_reap(&mut self) {
        let _ = sys::pidfd_send_signal(self.pidfd.as_fd(), libc::SIGKILL);
        self.reap();
    }

    /// After a failed setup or exec: reap init and remove its cgroup, so a container
    /// that never ran leaves nothing behind.
    fn reap(&mut self) {
        let _ = waitpid(Pid::from_raw(self.pid), None);
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.remove();
        }
    }
}
