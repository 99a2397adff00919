//! The container's init, in the child of clone: it only executes the plan the launcher
//! made before cloning. Every failure goes back over the channel with its exit code.

use super::cgroups::Cgroup;
use super::channel::{Channel, FromInit, ToInit};
use super::namespaces::NamespacePlan;
use super::process::Stdio;
use super::safepath::InRoot;
use super::seccomp::Filter;
use super::tiny_init;
use super::{cloned_binary, exec, keyring, rootfs, security, sys, tty, userns};
use crate::explain;
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, sethostname, setsid};
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// A failure of init: the message and the exit code nsbox should report.
pub struct InitFailure {
    pub code: i32,
    pub msg: String,
}

impl<E: std::fmt::Display> From<E> for InitFailure {
    fn from(e: E) -> Self {
        InitFailure {
            code: 125,
            msg: e.to_string(),
        }
    }
}

/// Runs in the cloned child; never returns.
#[allow(clippy::too_many_arguments)] // the plan, as made before clone
pub fn run(
    spec: &Spec,
    rootfs: &Path,
    id: &str,
    ns: NamespacePlan,
    chan: Channel,
    stdio: Stdio,
    cgroup: Option<&Cgroup>,
    filter: Option<&Filter>,
) -> ! {
    let failure = match setup_and_exec(spec, rootfs, id, ns, &chan, stdio, cgroup, filter) {
        Ok(never) => match never {},
        Err(f) => f,
    };
    let _ = chan.send(
        &FromInit::Failed {
            code: failure.code,
            msg: failure.msg.clone(),
        },
        None,
    );
    sys::exit_now(failure.code)
}

#[allow(clippy::too_many_arguments)]
fn setup_and_exec(
    spec: &Spec,
    rootfs: &Path,
    id: &str,
    ns: NamespacePlan,
    chan: &Channel,
    stdio: Stdio,
    cgroup: Option<&Cgroup>,
    filter: Option<&Filter>,
) -> Result<std::convert::Infallible, InitFailure> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| InitFailure::from("spec has no process"))?;
    // CVE-2019-5736: our /proc/self/exe must be a sealed copy, never the host's binary.
    cloned_binary::require_sealed()?;
    // Into our cgroup before anything else, so everything from here on is accounted there
    // and the cgroup namespace below is rooted at it.
    if let Some(cg) = cgroup {
        cg.join_self()?;
    }
    // The spec's namespaces with a path: joined here, never by the launcher.
    super::namespaces::join_all(&ns)?;
    let idmapped_rootfs = match chan.expect::<ToInit>("the launcher")? {
        (ToInit::Proceed, fd) => fd,
        (other, _) => return Err(format!("unexpected message {other:?}").into()),
    };
    // In a new user namespace the launcher has written our maps by now.
    if ns.clone_flags.contains(CloneFlags::CLONE_NEWUSER) {
        userns::become_root()?;
    }
    if ns.new_cgroupns {
        unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| format!("unshare cgroup namespace: {e}"))?;
    }
    // Our own session: the caller's terminal signals reach us only through the monitor.
    setsid().map_err(|e| format!("setsid: {e}"))?;
    keyring::join(keyring::session_name(spec, id).as_deref())?;
    // Docker's umask from the start: directories made for mount points or the workdir are
    // 0755, never world-writable (device nodes get their exact mode by chmod).
    umask(Mode::from_bits_truncate(0o022));

    if let Some(h) = spec.hostname() {
        if ns.clone_flags.contains(CloneFlags::CLONE_NEWUTS) {
            sethostname(h).map_err(|e| format!("sethostname: {e}"))?;
            explain::step("uts", || format!("hostname {h}"));
        }
    }
    let propagation = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone());
    rootfs::enter(rootfs, propagation.as_deref())?;
    if let Some(tree) = idmapped_rootfs {
        userns::attach_rootfs(tree.as_fd(), rootfs)?;
    }
    {
        // Opened after `enter` bound the rootfs on itself: mounts made through this fd land
        // on the tree pivot_root will use.
        let root = InRoot::open(rootfs)?;
        rootfs::mount_all(spec, &root)?;
        rootfs::create_devices(spec, &root)?;
        // The working directory, made inside the root (0755, root's) as Docker does.
        let cwd = process.cwd();
        if cwd.is_absolute() {
            root.ensure_dir(cwd)?;
        }
    }
    rootfs::pivot(rootfs)?;
    // Through the container's own /proc, before finish() makes /proc/sys read-only.
    security::apply_sysctls(spec)?;
    if ns.new_netns {
        sys::loopback_up().map_err(|e| format!("bring up lo: {e}"))?;
        explain::step("network", || {
            "new network namespace: lo up, nothing else".to_string()
        });
    }
    let master = if process.terminal().unwrap_or(false) {
        Some(tty::open_container_pty(true)?)
    } else {
        None
    };
    rootfs::finish(spec)?;
    security::apply_rlimits(process)?;

    let cwd = process.cwd();
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we
    // still hold it (runc's order); the rest of init then runs under it.
    if let Some(f) = filter.filter(|f| !f.late) {
        hand_notify_fd(chan, f.load()?)?;
    }
    security::apply_identity(process)?;
    chdir(cwd).map_err(|e| {
        format!(
            "chdir to cwd (\"{}\") set in config.json failed: {e}",
            cwd.display()
        )
    })?;

    chan.send(&FromInit::Ready, master.as_ref().map(|m| m.as_raw_fd()))?;
    drop(master);
    let keep_fds = match chan.expect::<ToInit>("start")? {
        (ToInit::Start, _) => 0,
        (ToInit::StartOnFifo { preserve_fds }, Some(fifo)) => {
            // As runc: a command that cannot be found fails `create`, not `start`.
            let args = process.args().clone().unwrap_or_default();
            let env = process.env().clone().unwrap_or_default();
            if let Err(e) = exec::check(
                args.first().map_or("", |a| a.as_str()),
                exec::path_var(&env),
            ) {
                return Err(InitFailure {
                    code: e.exit_code(),
                    msg: e.to_string(),
                });
            }
            // Ready again: we wait on the fifo now, and the launcher may leave.
            chan.send(&FromInit::Ready, None)?;
            wait_on_fifo(fifo)?;
            preserve_fds
        }
        (other, _) => return Err(format!("unexpected message {other:?}").into()),
    };

    // The user's process starts with a clean signal state and Docker's umask.
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator().filter(|s| *s != Signal::SIGKILL && *s != Signal::SIGSTOP) {
        let _ = sys::reset_signal(sig, &dfl);
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    umask(Mode::from_bits_truncate(0o022));
    sys::cloexec_from(3 + keep_fds).map_err(|e| format!("close fds: {e}"))?;

    let args = process.args().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    exec::narrate(process);
    if !process.terminal().unwrap_or(false) {
        stdio.install().map_err(|e| format!("stdio: {e}"))?;
    }
    if let Some(f) = filter.filter(|f| f.late) {
        hand_notify_fd(chan, f.load()?)?;
    }
    if wants_init(spec) {
        tiny_init::run_as_pid1(&args, &env, chan.as_raw_fd());
    }
    let err = exec::exec(&args, &env);
    Err(InitFailure {
        code: err.exit_code(),
        msg: err.to_string(),
    })
}

/// `nsbox-runtime start` releases us: opening the exec fifo for writing blocks until
/// `start` opens it for reading (runc's protocol; through /proc/self/fd, as the fifo lies
/// outside our root by now). One byte tells `start` we are past the open.
fn wait_on_fifo(fifo: OwnedFd) -> Result<(), InitFailure> {
    use std::io::Write;
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let mut w = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| format!("open the exec fifo: {e}"))?;
    w.write_all(b"0")
        .map_err(|e| format!("write the exec fifo: {e}"))?;
    drop(w);
    drop(fifo);
    Ok(())
}

/// The seccomp notify fd goes to the launcher and never to the user's process: our copy
/// closes here once sent.
fn hand_notify_fd(chan: &Channel, fd: Option<OwnedFd>) -> Result<(), InitFailure> {
    if let Some(fd) = fd {
        chan.send(&FromInit::SeccompNotify, Some(fd.as_raw_fd()))?;
    }
    Ok(())
}

/// `--init`: the spec asks for nsbox's tiny init as pid 1 (an annotation, as Docker's
/// `--init` is a daemon feature and not part of the OCI process).
fn wants_init(spec: &Spec) -> bool {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(tiny_init::ANNOTATION))
        .is_some_and(|v| v == "true")
}
