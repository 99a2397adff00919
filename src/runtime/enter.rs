//! `exec`: start one more process in a running container. A helper child joins the
//! container's cgroup and namespaces (setns), then forks the process itself, because a new
//! pid namespace only applies to children. The process gets the container's security
//! settings from its config.json (capabilities, user, rlimits), with the caller's changes.
//!
//! ```text
//!  nsbox exec ──fork──► helper: join cgroup, setns(ipc,uts,net,cgroup,pid,mnt) ──fork──► process
//!       ◄── pty master / failure ──────────────────────────────────────────────────┘
//!       waits for the helper, which exits with the process's status and forwards signals
//! ```

use super::cgroups::{Cgroup, CgroupRef};
use super::channel::{self, Channel, FromInit};
use super::{exec, security, sys, tty, RuntimeError, Stdio};
use crate::explain;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::{umask, Mode};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{chdir, setsid, Pid};
use oci_spec::runtime::{LinuxSeccomp, Process};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// The namespaces a process joins, in the order it joins them: the user namespace first
/// (it owns the others; joining it gives us its capabilities and takes the host's), the
/// mount namespace last, since entering it changes our root and the /proc we read the
/// others from.
const NAMESPACES: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// A process started in a container: our child is the helper, which lives as long as it
/// (or, with `EnterOptions::detach`, has left it to the caller's subreaper).
pub struct Entered {
    pub helper: i32,
    pub helper_pidfd: OwnedFd,
    pub pty_master: Option<OwnedFd>,
    /// The process itself, as our pid namespace sees it.
    pub pid: i32,
}

/// How `spawn_in_with` hands the process over.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnterOptions {
    /// Fds 3, 4, … of ours the process keeps (runc's `--preserve-fds`).
    pub preserve_fds: u32,
    /// The helper exits once the process is forked, so the process is reparented to the
    /// caller's subreaper (containerd's shim, conmon), as `runc exec --detach` leaves it.
    pub detach: bool,
}

/// Start `process` (args, env, cwd, user, caps) inside the container whose pid 1 is `pid`.
/// Returns once it has exec'd; a setup or exec failure comes back with Docker's exit code.
/// `keyring`: the container's session keyring to join (`keyring::session_name`), or None.
pub fn spawn_in(
    pid: i32,
    cgroup: Option<&CgroupRef>,
    keyring: Option<&str>,
    process: &Process,
    seccomp: Option<&LinuxSeccomp>,
    stdio: Stdio,
) -> Result<Entered, RuntimeError> {
    spawn_in_with(
        pid,
        cgroup,
        keyring,
        process,
        seccomp,
        stdio,
        EnterOptions::default(),
    )
}

/// `spawn_in` with runc's exec options.
pub fn spawn_in_with(
    pid: i32,
    cgroup: Option<&CgroupRef>,
    keyring: Option<&str>,
    process: &Process,
    seccomp: Option<&LinuxSeccomp>,
    stdio: Stdio,
    opts: EnterOptions,
) -> Result<Entered, RuntimeError> {
    // CVE-2019-5736: the helper and the process run our code in the container until exec.
    super::cloned_binary::require_sealed().map_err(|e| RuntimeError::Init {
        code: 125,
        msg: e.to_string(),
    })?;
    // The container's seccomp profile applies to exec'd processes too (as in runc exec),
    // compiled before the fork like init's.
    let nnp = process.no_new_privileges().unwrap_or(false);
    let filter = seccomp
        .map(|s| super::seccomp::compile(s, nnp))
        .transpose()?;
    // Opened here, before the fork: the helper's setns must not depend on its /proc.
    let mut joins = Vec::new();
    let ours = |name: &str| std::fs::read_link(format!("/proc/self/ns/{name}")).ok();
    for (name, flag) in NAMESPACES {
        let path = format!("/proc/{pid}/ns/{name}");
        // Joining a namespace we share already is pointless (and for some, refused).
        if std::fs::read_link(&path).ok() == ours(name) {
            continue;
        }
        let f = File::open(&path).map_err(|e| RuntimeError::Init {
            code: 125,
            msg: format!("open {path}: {e}"),
        })?;
        joins.push((name, flag, f));
    }
    let (ours_chan, theirs) = channel::pair()?;
    nix::sys::signal::sigprocmask(
        SigmaskHow::SIG_BLOCK,
        Some(&super::process::monitored_signals()),
        None,
    )?;
    let (helper, helper_pidfd) = match sys::clone_fork(0, None).map_err(RuntimeError::Clone)? {
        sys::Forked::Child => {
            drop(ours_chan);
            let join = Joins {
                cgroup,
                namespaces: &joins,
                keyring,
            };
            let code = match helper_main(join, process, filter.as_ref(), stdio, theirs, opts) {
                Ok(code) => code,
                Err((code, msg, chan)) => {
                    let _ = chan.send(&FromInit::Failed { code, msg }, None);
                    code
                }
            };
            sys::exit_now(code)
        }
        sys::Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop(theirs);
    let mut pty_master = None;
    let mut process_pid = 0;
    loop {
        match ours_chan.recv::<FromInit>()? {
            // The process exec'd: every copy of the channel is closed.
            None => break,
            Some((FromInit::Ready, fd)) => pty_master = fd,
            Some((FromInit::Pid(p), _)) => process_pid = p,
            // `exec` has no agent to hand a notify fd to (helper_main drops it): closed here.
            Some((FromInit::SeccompNotify, _)) => {}
            Some((FromInit::Failed { code, msg }, _)) => {
                let _ = waitpid(Pid::from_raw(helper), None);
                return Err(RuntimeError::Init { code, msg });
            }
        }
    }
    Ok(Entered {
        helper,
        helper_pidfd,
        pty_master,
        pid: process_pid,
    })
}

type HelperError = (i32, String, Channel);

/// What the helper joins before it forks the process.
struct Joins<'a> {
    cgroup: Option<&'a CgroupRef>,
    namespaces: &'a [(&'a str, CloneFlags, File)],
    keyring: Option<&'a str>,
}

/// In the helper: join, fork the process, wait for it, exit with its status.
fn helper_main(
    join: Joins<'_>,
    process: &Process,
    filter: Option<&super::seccomp::Filter>,
    stdio: Stdio,
    chan: Channel,
    opts: EnterOptions,
) -> Result<i32, HelperError> {
    macro_rules! fail {
        ($code:expr, $($arg:tt)*) => { return Err(($code, format!($($arg)*), chan)) };
    }
    let Joins {
        cgroup,
        namespaces: joins,
        keyring,
    } = join;
    if let Some(r) = cgroup {
        if let Err(e) = Cgroup::open(r).join_self() {
            fail!(125, "join the container's cgroup: {e}");
        }
    }
    for (name, flag, f) in joins {
        if let Err(e) = setns(f, *flag) {
            fail!(125, "setns {name}: {e}");
        }
    }
    explain::step("setns", || {
        let names: Vec<&str> = joins.iter().map(|(n, _, _)| *n).collect();
        format!(
            "joined the container's {} namespaces (nsenter --target PID --{})",
            names.join(" "),
            names.join(" --")
        )
    });
    // The container's session keyring, not the caller's (runc's setns init does the same).
    if let Err(e) = super::keyring::join(keyring) {
        fail!(125, "{e}");
    }
    let child = match sys::clone_fork(0, None) {
        Ok(sys::Forked::Child) => {
            let (code, msg) = process_main(process, filter, stdio, &chan, opts.preserve_fds);
            let _ = chan.send(&FromInit::Failed { code, msg }, None);
            sys::exit_now(code)
        }
        Ok(sys::Forked::Parent { pid, pidfd }) => (Pid::from_raw(pid), pidfd),
        Err(e) => fail!(125, "fork: {e}"),
    };
    if let Err(e) = chan.send(&FromInit::Pid(child.0.as_raw()), None) {
        let _ = kill(child.0, Signal::SIGKILL);
        fail!(125, "{e}");
    }
    if opts.detach {
        // The process is the caller's subreaper's now; the caller still sees its exec (EOF)
        // or its failure on the channel, whose last copy the process holds.
        return Ok(0);
    }
    // Our copy closed, so the caller sees EOF once the process has exec'd.
    drop(chan);
    // Let go of the caller's stdio where the process has its own (`exec -d`).
    let _ = stdio.install();
    Ok(wait_forwarding(child.0, &child.1))
}

/// Wait for the process, passing on the signals the caller sends us.
pub fn wait_forwarding(child: Pid, pidfd: &OwnedFd) -> i32 {
    let mut set = super::process::monitored_signals();
    set.remove(Signal::SIGCHLD);
    let Ok(signals) = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
    else {
        return status(waitpid(child, None));
    };
    loop {
        let mut fds = [
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
        ];
        let _ = poll(&mut fds, PollTimeout::NONE);
        while let Ok(Some(info)) = signals.read_signal() {
            if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                let _ = kill(child, sig);
            }
        }
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            other => return status(other),
        }
    }
}

/// Docker's exit status of a reaped process.
fn status(w: nix::Result<WaitStatus>) -> i32 {
    match w {
        Ok(WaitStatus::Exited(_, code)) => code,
        Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
        _ => 125,
    }
}

/// In the process, inside every namespace: terminal or stdio, limits, identity, exec.
fn process_main(
    process: &Process,
    filter: Option<&super::seccomp::Filter>,
    stdio: Stdio,
    chan: &Channel,
    preserve_fds: u32,
) -> (i32, String) {
    let _ = setsid();
    if process.terminal().unwrap_or(false) {
        match tty::open_container_pty(false) {
            Ok(master) => {
                if let Err(e) = chan.send(&FromInit::Ready, Some(master.as_raw_fd())) {
                    return (125, e.to_string());
                }
            }
            Err(e) => return (125, e.to_string()),
        }
    } else {
        if let Err(e) = stdio.install() {
            return (125, format!("stdio: {e}"));
        }
    }
    if let Err(e) = security::apply_rlimits(process) {
        return (125, e.to_string());
    }
    // Where init loads it: before dropping caps, or last with no_new_privs.
    if let Some(Err(e)) = filter.filter(|f| !f.late).map(|f| f.load()) {
        return (125, e.to_string());
    }
    if let Err(e) = security::apply_identity(process) {
        return (125, e.to_string());
    }
    let cwd = process.cwd();
    if let Err(e) = chdir(cwd) {
        return (
            126,
            format!("chdir to cwd (\"{}\") failed: {e}", cwd.display()),
        );
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    umask(Mode::from_bits_truncate(0o022));
    if let Err(e) = sys::cloexec_from(3 + preserve_fds) {
        return (125, format!("close fds: {e}"));
    }
    let args = process.args().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    exec::narrate(process);
    if let Some(Err(e)) = filter.filter(|f| f.late).map(|f| f.load()) {
        return (125, e.to_string());
    }
    let err = exec::exec(&args, &env);
    (err.exit_code(), err.to_string())
}
