//! `exec`: one more process in a running container (`--process FILE` or a command line).
//!
//! ```text
//!  nsbox-runtime exec ──fork──► helper: join cgroup, setns ──fork──► process (execs)
//!       ◄── Pid, pty master (→ --console-socket), EOF once it exec'd ─────┘
//!  --detach: the helper exits at once; the process is the caller's subreaper's child
//!            (containerd's shim, conmon), which reaps it, as with runc
//!  else:     we wait for the helper, which forwards our signals and ends with the status
//! ```
//!
//! Without `--process` the container's own process (config.json) is the template, as in
//! runc: the command line replaces its args, `--env` adds to its env, `--cap` adds to every
//! capability set, `--user`/`--cwd`/`--tty`/`--no-new-privs` override.

use super::args::{ExecArgs, Global};
use super::state::{Root, Status};
use super::{OciError, Result};
use crate::runtime::enter::{self, EnterOptions};
use crate::runtime::Stdio;
use oci_spec::runtime::{Capability, Process, Spec, UserBuilder};
use std::collections::HashSet;
use std::os::fd::AsFd;
use std::path::PathBuf;

pub fn exec(g: &Global, a: ExecArgs) -> Result<i32> {
    let root = Root::open(&g.root)?;
    let r = root
        .load(&a.id)?
        .ok_or_else(|| OciError::NotFound(a.id.clone()))?;
    match r.status() {
        Status::Running | Status::Created => {}
        Status::Paused => return Err(OciError::other("cannot exec in a paused container")),
        _ => return Err(OciError::other("cannot exec in a stopped container")),
    }
    let spec = Spec::load(r.bundle.join("config.json"))
        .map_err(|e| OciError::other(format!("load {}/config.json: {e}", r.bundle.display())))?;
    let process = process_of(&spec, &a)?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && a.console_socket.is_none() {
        return Err(OciError::other(
            "cannot allocate tty without setting console socket",
        ));
    }
    if !terminal && a.console_socket.is_some() {
        return Err(OciError::other(
            "cannot use console socket if nsbox-runtime will not allocate tty",
        ));
    }
    if !a.cgroup.is_empty() {
        return Err(OciError::other(
            "exec --cgroup (a sub-cgroup of the container's) is not supported by nsbox-runtime",
        ));
    }
    if a.apparmor.as_deref().is_some_and(|p| !p.is_empty())
        || a.process_label.as_deref().is_some_and(|p| !p.is_empty())
    {
        return Err(OciError::other(
            "exec --apparmor/--process-label: this host has no AppArmor/SELinux support in \
             nsbox-runtime",
        ));
    }
    super::create::seal(g)?;
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let keyring = crate::runtime::keyring::session_name(&spec, &r.id);
    let entered = enter::spawn_in_with(
        r.pid,
        r.cgroup.as_ref(),
        keyring.as_deref(),
        &process,
        seccomp,
        Stdio::default(),
        EnterOptions {
            preserve_fds: a.preserve_fds,
            detach: a.detach,
        },
    )?;
    let sent = match (&a.console_socket, &entered.pty_master) {
        (Some(sock), Some(m)) => super::create::send_console(sock, m.as_fd()),
        _ => Ok(()),
    };
    let written = sent.and_then(|()| match &a.pid_file {
        Some(p) => super::create::write_pid_file(p, entered.pid),
        None => Ok(()),
    });
    if let Err(e) = written {
        kill_process(&entered, a.detach);
        return Err(e);
    }
    if a.detach {
        // The helper left as soon as the process was forked: reap it.
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(entered.helper), None);
        return Ok(0);
    }
    drop(entered.pty_master);
    Ok(enter::wait_forwarding(
        nix::unistd::Pid::from_raw(entered.helper),
        &entered.helper_pidfd,
    ))
}

/// Undo a half-done exec: the process goes (the helper with it, in the foreground).
fn kill_process(e: &enter::Entered, detached: bool) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    if e.pid > 0 {
        let _ = kill(Pid::from_raw(e.pid), Signal::SIGKILL);
    }
    if !detached {
        let _ = kill(Pid::from_raw(e.helper), Signal::SIGKILL);
    }
    let _ = nix::sys::wait::waitpid(Pid::from_raw(e.helper), None);
}

/// The process to run: `--process FILE` as it is, or the container's process changed by
/// the command line (runc's `getProcess`).
fn process_of(spec: &Spec, a: &ExecArgs) -> Result<Process> {
    if let Some(path) = &a.process {
        let text = std::fs::read_to_string(path)
            .map_err(|e| OciError::other(format!("process {}: {e}", path.display())))?;
        let p: Process = serde_json::from_str(&text)
            .map_err(|e| OciError::other(format!("process {}: {e}", path.display())))?;
        if p.args().as_ref().is_none_or(|v| v.is_empty()) {
            return Err(OciError::other(format!(
                "process {}: args must not be empty",
                path.display()
            )));
        }
        return Ok(p);
    }
    if a.command.is_empty() {
        return Err(OciError::other(
            "exec needs a command (or --process FILE): nsbox-runtime exec ID COMMAND [ARG...]",
        ));
    }
    let mut p = spec
        .process()
        .clone()
        .ok_or_else(|| OciError::other("the container's config.json has no process"))?;
    p.set_args(Some(a.command.clone()));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(PathBuf::from(cwd));
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    p.set_terminal(Some(a.tty));
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(u) = &a.user {
        let (uid, gid) = parse_user(u)?;
        let gid = gid.unwrap_or(p.user().gid());
        let user = UserBuilder::default()
            .uid(uid)
            .gid(gid)
            .additional_gids(a.additional_gids.clone())
            .build()
            .map_err(|e| OciError::other(format!("--user {u}: {e}")))?;
        p.set_user(user);
    } else if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if !a.cap.is_empty() {
        let add: Vec<Capability> = a
            .cap
            .iter()
            .map(|c| {
                serde_json::from_value(serde_json::Value::String(c.clone()))
                    .map_err(|_| OciError::other(format!("unknown capability \"{c}\"")))
            })
            .collect::<Result<_>>()?;
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let grow = |set: Option<HashSet<Capability>>| {
            let mut s = set.unwrap_or_default();
            s.extend(add.iter().copied());
            Some(s)
        };
        caps.set_bounding(grow(caps.bounding().clone()));
        caps.set_effective(grow(caps.effective().clone()));
        caps.set_permitted(grow(caps.permitted().clone()));
        caps.set_inheritable(grow(caps.inheritable().clone()));
        caps.set_ambient(grow(caps.ambient().clone()));
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

/// runc's `--user UID[:GID]` (numbers only: names would need the container's passwd).
fn parse_user(u: &str) -> Result<(u32, Option<u32>)> {
    let bad = || OciError::other(format!("--user \"{u}\": use UID[:GID] (numbers)"));
    let (uid, gid) = match u.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (u, None),
    };
    let uid: u32 = uid.parse().map_err(|_| bad())?;
    let gid = match gid {
        Some(g) => Some(g.parse().map_err(|_| bad())?),
        None => None,
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_forms() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1000:100").unwrap(), (1000, Some(100)));
        assert!(parse_user("alice").is_err());
        assert!(parse_user("1:x").is_err());
    }
}
