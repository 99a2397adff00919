//! `create` and `run`: set a bundle up and leave its init blocked on the exec fifo.
//!
//! ```text
//!  nsbox-runtime create ──clone──► init: namespaces, cgroup, rootfs, pivot, security
//!     │  ◄── Ready (+ pty master → --console-socket)
//!     │  record state.json, --pid-file, prestart/createRuntime hooks
//!     │  ── StartOnFifo(exec.fifo) ──► init blocks in open(exec.fifo, O_WRONLY)
//!     exit 0: init is reparented to the caller's subreaper (containerd's shim, conmon)
//! ```

use super::args::{CreateArgs, Global, RunArgs};
use super::state::{self, Record, Root, Status};
use super::{OciError, Result};
use crate::runtime::{self, hooks, Launched, Stdio};
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

pub fn create(g: &Global, a: CreateArgs) -> Result<i32> {
    let made = Made::new(g, &a)?;
    made.detach(a.preserve_fds)?;
    Ok(0)
}

/// `run`: create and start; in the foreground wait for init and delete the container
/// (unless --keep), exiting with its status.
pub fn run(g: &Global, a: RunArgs) -> Result<i32> {
    let detach = a.detach;
    let keep = a.keep;
    let root = Root::open(&g.root)?;
    let mut made = Made::new(g, &a.create)?;
    if detach {
        let id = made.record.id.clone();
        made.detach(a.create.preserve_fds)?;
        return super::start::start_id(&root, &id).map(|()| 0);
    }
    made.launched
        .as_mut()
        .ok_or_else(|| OciError::other("container already handed over"))?
        .start()?;
    made.record.started = true;
    root.save(&made.record)?;
    let spec = made.spec.clone();
    let record = made.record.clone();
    made.keep();
    super::start::poststart(&spec, &record);
    let code = wait_exit(record.pid);
    if !keep {
        super::delete::destroy(&root, &record)?;
    }
    Ok(code)
}

/// Wait for our child `pid` and return its status the shell way (128+N for a signal).
fn wait_exit(pid: i32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, c)) => return c,
            Ok(WaitStatus::Signaled(_, s, _)) => return 128 + s as i32,
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(_) => return 255,
        }
    }
}

/// A container being made: until `keep`, dropping it kills init and removes everything.
struct Made {
    root: PathBuf,
    spec: Spec,
    record: Record,
    launched: Option<Launched>,
    kept: bool,
}

impl Made {
    fn new(g: &Global, a: &CreateArgs) -> Result<Made> {
        if !state::valid_id(&a.id) {
            return Err(OciError::BadId(a.id.clone()));
        }
        let root = Root::open(&g.root)?;
        let bundle = std::fs::canonicalize(&a.bundle)
            .map_err(|e| OciError::other(format!("bundle {}: {e}", a.bundle.display())))?;
        let mut spec = Spec::load(bundle.join("config.json"))
            .map_err(|e| OciError::other(format!("load {}/config.json: {e}", bundle.display())))?;
        check_cgroups_path(g, &spec)?;
        if a.no_new_keyring {
            let mut ann = spec.annotations().clone().unwrap_or_default();
            ann.insert(
                crate::runtime::keyring::NO_NEW_KEYRING_ANNOTATION.to_string(),
                "true".to_string(),
            );
            spec.set_annotations(Some(ann));
        }
        let terminal = spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
        if terminal && a.console_socket.is_none() {
            return Err(OciError::other(
                "cannot allocate tty if nsbox-runtime will detach without setting console socket",
            ));
        }
        if !terminal && a.console_socket.is_some() {
            return Err(OciError::other(
                "cannot use console socket if nsbox-runtime will not detach or allocate tty",
            ));
        }
        let rootfs = spec
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .unwrap_or_else(|| PathBuf::from("rootfs"));
        let rootfs = if rootfs.is_absolute() {
            rootfs
        } else {
            bundle.join(rootfs)
        };
        seal(g)?;
        let dir = root.dir_of(&a.id);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(OciError::Exists(a.id.clone()))
            }
            Err(e) => return Err(OciError::other(format!("{}: {e}", dir.display()))),
        }
        let mut made = Made {
            root: dir.clone(),
            spec,
            record: Record {
                id: a.id.clone(),
                bundle: bundle.clone(),
                rootfs: rootfs.clone(),
                pid: 0,
                pid_start: 0,
                created: crate::state::now_rfc3339(),
                cgroup: None,
                started: false,
                annotations: Default::default(),
                owner: String::new(),
                systemd_cgroup: g.systemd_cgroup,
            },
            launched: None,
            kept: false,
        };
        made.record.annotations = made
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        nix::unistd::mkfifo(
            &root.fifo_of(&a.id),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| OciError::other(format!("make the exec fifo: {e}")))?;
        let launched = runtime::create_with(&made.spec, &rootfs, &a.id, Stdio::default(), true)?;
        made.record.pid = launched.pid;
        made.record.pid_start = crate::state::proc_start_time(launched.pid).unwrap_or(0);
        made.record.cgroup = launched.cgroup.as_ref().map(|c| c.reference.clone());
        let master = launched.pty_master.as_ref().map(|m| m.as_fd());
        let sent = match (&a.console_socket, master) {
            (Some(sock), Some(fd)) => send_console(sock, fd),
            _ => Ok(()),
        };
        made.launched = Some(launched);
        sent?;
        // Our copy of the master closes: the console socket's owner holds it now.
        if let Some(l) = made.launched.as_mut() {
            l.pty_master = None;
        }
        root.save(&made.record)?;
        if let Some(p) = &a.pid_file {
            write_pid_file(p, made.record.pid)?;
        }
        if let Some(h) = made.spec.hooks().clone() {
            let st = state::oci_state(&made.record, Status::Created).to_string();
            hooks::run("prestart", h.prestart().as_deref().unwrap_or(&[]), &st)
                .and_then(|()| {
                    hooks::run(
                        "createRuntime",
                        h.create_runtime().as_deref().unwrap_or(&[]),
                        &st,
                    )
                })
                .map_err(runtime::RuntimeError::from)?;
        }
        Ok(made)
    }

    /// Leave init waiting on the fifo; the container now lives without us.
    fn detach(mut self, preserve_fds: u32) -> Result<()> {
        let fifo = self.root.join("exec.fifo");
        if let Some(l) = self.launched.take() {
            if let Err(e) = l.start_on_fifo(&fifo, preserve_fds) {
                // start_on_fifo killed and reaped init (and removed its cgroup).
                self.record.pid = 0;
                return Err(e.into());
            }
        }
        self.keep();
        Ok(())
    }

    fn keep(&mut self) {
        self.kept = true;
    }

    fn kill_init(&mut self) {
        if self.record.pid > 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.record.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        match self.launched.as_mut() {
            Some(l) => l.kill_and_reap(),
            None if self.record.pid > 0 => {
                self.kill_init();
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.record.pid), None);
            }
            None => {}
        }
        if let Some(cg) = &self.record.cgroup {
            let _ = runtime::cgroups::Cgroup::open(cg).remove();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// CVE-2019-5736: what runs our code inside a container (init, exec's helper) runs from a
/// sealed view of our binary.
pub(crate) fn seal(g: &Global) -> Result<()> {
    let empty = g.root.join(".empty");
    let _ = std::fs::create_dir(&empty);
    runtime::cloned_binary::ensure_sealed(&empty).map_err(|e| OciError::other(e.to_string()))
}

/// `--systemd-cgroup`: a `slice:prefix:name` path is placed by systemd, which this host
/// may not run: then one clear line.
fn check_cgroups_path(g: &Global, spec: &Spec) -> Result<()> {
    let path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let systemd_form = path.split(':').count() == 3 && !path.starts_with('/');
    if g.systemd_cgroup || systemd_form {
        if !Path::new("/run/systemd/system").exists() {
            return Err(OciError::other(format!(
                "systemd cgroup placement{}: systemd is not running on this host (no \
                 /run/systemd/system); drop --systemd-cgroup to use cgroupfs",
                if path.is_empty() {
                    String::new()
                } else {
                    format!(" of \"{path}\"")
                }
            )));
        }
        return Err(OciError::other(
            "systemd cgroup placement is not supported by nsbox-runtime yet: drop --systemd-cgroup",
        ));
    }
    Ok(())
}

/// Send the pty master to the console socket, as runc does (one message, the fd by
/// SCM_RIGHTS, a name as payload).
pub(crate) fn send_console(sock: &Path, master: BorrowedFd<'_>) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let stream = std::os::unix::net::UnixStream::connect(sock)
        .map_err(|e| OciError::other(format!("console socket {}: {e}", sock.display())))?;
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[std::io::IoSlice::new(b"/dev/ptmx")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| OciError::other(format!("send the console to {}: {e}", sock.display())))?;
    Ok(())
}

/// The pid file, written whole or not at all (temp + rename), as engines poll for it.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("nsbox-tmp");
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            OciError::other(format!("pid file {}: {e}", path.display()))
        })
}
