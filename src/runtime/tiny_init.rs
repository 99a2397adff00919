//! `--init`: a tiny init as the container's pid 1, like tini or catatonit. It is the
//! container's own init process going on in nsbox's code instead of exec'ing: it starts the
//! command as its child, forwards every signal it gets to it, reaps every orphan that the
//! pid namespace hands it, and exits with the command's status.
//!
//! Why it matters: a pid 1 without signal handlers ignores SIGTERM (the kernel protects
//! init), and nobody reaps the zombies of orphaned grandchildren.

use super::{exec, sys};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::RawFd;

/// The spec annotation that asks for it.
pub const ANNOTATION: &str = "org.nsbox.init";

/// Run `args` as our child and supervise it; never returns. `channel` is the launcher's
/// channel: closed here, so the launcher sees "exec done" once the child has exec'd.
pub fn run_as_pid1(args: &[String], env: &[String], channel: RawFd) -> ! {
    let mut all = SigSet::all();
    all.remove(Signal::SIGKILL);
    all.remove(Signal::SIGSTOP);
    // Blocked signals are queued even for a pid 1 without handlers; we read them from a
    // signalfd, so no handler code ever runs.
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&all), None);
    let signals = match SignalFd::with_flags(&all, SfdFlags::SFD_CLOEXEC) {
        Ok(s) => s,
        Err(e) => fail(&format!("init: signalfd: {e}")),
    };
    let child = match sys::clone_fork(0, None) {
        Ok(sys::Forked::Child) => {
            let _ = nix::sys::signal::sigprocmask(
                SigmaskHow::SIG_SETMASK,
                Some(&SigSet::empty()),
                None,
            );
            let err = exec::exec(args, env);
            eprintln!("nsbox-init: {err}");
            sys::exit_now(err.exit_code())
        }
        Ok(sys::Forked::Parent { pid, .. }) => Pid::from_raw(pid),
        Err(e) => fail(&format!("init: fork: {e}")),
    };
    let _ = nix::unistd::close(channel);
    loop {
        let Ok(Some(info)) = signals.read_signal() else {
            continue;
        };
        let sig = info.ssi_signo as i32;
        if sig != libc::SIGCHLD {
            if let Ok(s) = Signal::try_from(sig) {
                let _ = kill(child, s);
            }
            continue;
        }
        // Reap everything that has ended: our child and any orphan re-parented to us.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => sys::exit_now(code),
                Ok(WaitStatus::Signaled(pid, s, _)) if pid == child => {
                    sys::exit_now(128 + s as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("nsbox-init: {msg}");
    sys::exit_now(125)
}
