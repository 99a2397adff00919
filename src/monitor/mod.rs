//! The monitor: one process per container, forked by the command that starts it, that
//! creates the container, relays its output (into the json-file log, and to the terminal of
//! an attached client), records its exit in state, applies the restart policy and cleans up.
//! Foreground and detached containers share it: `-d` only means that the client leaves as
//! soon as the container runs, instead of staying attached until it exits.
//!
//! ```text
//!  nsbox run ──fork──► monitor ──clone──► container init ──exec──► the command
//!     │  ◄── Started{pid} / Failed ───┤
//!     │  ─── Signal / Detach ────────►│  (foreground only)
//!     │  ◄── Exited{code} ────────────┘
//! ```

pub mod attach;
pub mod client;
mod fdio;
pub mod log;
pub mod restart;
pub mod session;

pub use restart::RestartPolicy;

use crate::dataroot::DataRoot;
use crate::runtime::channel::{self, Channel, ChannelError};
use crate::runtime::{self, sys, Launched, RuntimeError, Stdio};
use crate::state::{self, ContainerState, Containers, Status};
use crate::storage::{overlay, volumes};
use log::{LogWriter, Stream};
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe2, Pid};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("monitor: {0}")]
    Sys(#[from] nix::Error),
    #[error("monitor: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    State(#[from] state::StateError),
    /// The container could not be started; `code` is nsbox's exit code (125/126/127).
    #[error("{msg}")]
    Failed { code: i32, msg: String },
    #[error("monitor: exited before the container started")]
    Gone,
}

/// Monitor → client.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToClient {
    /// The container runs; with a pty, its master travels along (for stdin and resizes).
    Started {
        pid: i32,
    },
    Failed {
        code: i32,
        msg: String,
    },
    /// Output of the container, for `nsbox attach` clients (stream 1 or 2).
    Output {
        stream: u8,
        data: Vec<u8>,
    },
    /// The container ended for good (no restart): nsbox's exit status.
    Exited {
        code: i32,
    },
}

/// Client → monitor.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToMonitor {
    /// Forward this signal to the container's pid 1 (the client's --sig-proxy).
    Signal(i32),
    /// The client leaves; the container goes on (detach keys).
    Detach,
    /// Input for a container without a pty that keeps stdin open (`run -di`).
    Stdin(Vec<u8>),
}

/// A started container, from the client's side.
pub enum Started {
    Detached,
    Attached {
        chan: Channel,
        master: Option<OwnedFd>,
    },
}

/// Fork the monitor for container `id` and return once the container runs. The monitor
/// first calls `prepare` to create the container (or, for `start`, just to hand over its
/// spec): from the fork on the container belongs to the monitor alone, so a client that
/// dies at any moment leaves no half-made container — it is run to completion, or its
/// creation rolled back. On failure the monitor has already cleaned up.
pub fn spawn(
    root: &DataRoot,
    id: &str,
    detach: bool,
    prepare: impl FnOnce() -> Result<Spec, MonitorError>,
) -> Result<Started, MonitorError> {
    let (client, theirs) = channel::pair()?;
    match sys::clone_fork(0, None)? {
        sys::Forked::Child => {
            // Our own session first: signals to the caller's process group or terminal
            // (Ctrl-C, a hang-up) reach the container only through the client.
            let _ = nix::unistd::setsid();
            drop(client);
            // Nothing of the caller's but stdio and our channel end.
            let _ = sys::close_fds_except(3, theirs.as_raw_fd());
            let result = prepare().and_then(|spec| monitor_main(root, &spec, id, detach, &theirs));
            let code = match result {
                Ok(()) => 0,
                Err(e) => {
                    // Nobody may be listening any more: the state says what happened.
                    let (code, msg) = match e {
                        MonitorError::Failed { code, msg } => (code, msg),
                        other => (125, other.to_string()),
                    };
                    let _ = theirs.send(&ToClient::Failed { code, msg }, None);
                    125
                }
            };
            sys::exit_now(code)
        }
        sys::Forked::Parent { .. } => {}
    }
    drop(theirs);
    match client.recv::<ToClient>()? {
        Some((ToClient::Started { .. }, master)) => Ok(if detach {
            Started::Detached
        } else {
            Started::Attached {
                chan: client,
                master,
            }
        }),
        Some((ToClient::Failed { code, msg }, _)) => Err(MonitorError::Failed { code, msg }),
        Some((ToClient::Exited { code }, _)) => Err(MonitorError::Failed {
            code,
            msg: "container exited before it started".into(),
        }),
        Some((ToClient::Output { .. }, _)) => Err(MonitorError::Gone),
        None => Err(MonitorError::Gone),
    }
}

/// The container's output side: its pty master, or pipes for stdout and stderr.
struct Output {
    master: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    /// The write end of a stdin pipe kept open for a detached `-i` container.
    _stdin: Option<OwnedFd>,
}

/// One run of the container: create, start, relay until it exits.
struct Run {
    launched: Launched,
    out: Output,
}

fn monitor_main(
    root: &DataRoot,
    spec: &Spec,
    id: &str,
    detach: bool,
    chan: &Channel,
) -> Result<(), MonitorError> {
    let containers = Containers::open(root)?;
    // Ours from now on (`run` wrote this when it created it; `start` has not).
    let (me, my_start) = state::own_process();
    let mut st = containers.load(id)?;
    if (st.monitor_pid, st.monitor_start) != (me, my_start) {
        st = containers
            .update(id, |s| {
                s.monitor_pid = me;
                s.monitor_start = my_start;
            })
            .inspect_err(|_| cleanup(root, &containers, id, None))?;
    }
    let mut log = LogWriter::open(&st.log_path, st.log)?;
    let mut attached = !detach;
    let mut first = true;
    let mut backoff = Duration::from_millis(100);
    // The status to narrate when the restarts end.
    let last = loop {
        let run = match start(&st, spec, detach) {
            Ok(r) => r,
            Err(e) if first => {
                cleanup(root, &containers, id, None);
                let (code, msg) = match &e {
                    MonitorError::Failed { code, msg } => (*code, msg.clone()),
                    other => (125, other.to_string()),
                };
                let _ = chan.send(&ToClient::Failed { code, msg }, None);
                return Ok(());
            }
            Err(e) => {
                // A restart that cannot start: recorded as a failure, no more tries.
                let _ = persist(&containers, id, Retry::Long, |s| {
                    s.status = Status::Exited;
                    s.exit_code = Some(125);
                    s.finished_at = Some(state::now_rfc3339());
                    s.pid = 0;
                    s.restarting = false;
                });
                let _ = log.write(Stream::Stderr, format!("nsbox: restart: {e}\n").as_bytes());
                break 125;
            }
        };
        let started_at = Instant::now();
        let pid = run.launched.pid;
        // The container runs whatever happens to this write: never leave it unsupervised.
        let recorded = persist(&containers, id, Retry::Short, |s| {
            s.status = Status::Running;
            s.pid = pid;
            s.pid_start = state::proc_start_time(pid).unwrap_or(0);
            s.started_at = Some(state::now_rfc3339());
            s.finished_at = None;
            s.exit_code = None;
            s.oom_killed = false;
            s.restarting = false;
            s.cgroup = run.launched.cgroup.as_ref().map(|c| c.reference.clone());
        });
        if let Err(e) = recorded {
            report(
                &mut log,
                attached,
                &format!("record the start of {id}: {e}"),
            );
        }
        if first {
            let master = run.out.master.as_ref().filter(|_| attached);
            // A client that died meanwhile does not matter: the container goes on, logged.
            if chan
                .send(&ToClient::Started { pid }, master.map(|m| m.as_raw_fd()))
                .is_err()
                || detach
            {
                attached = false;
                quiet_stdio();
            }
            first = false;
        }
        let attach_point = attach::AttachPoint::bind(&st.state_dir()).ok();
        let (run, code) = relay(run, &mut log, chan, &mut attached, attach_point.as_ref())?;
        drop(attach_point);
        let _ = log.flush();
        let restart = match record_exit(&containers, id, run, code) {
            Ok(restart) => restart,
            // Gone: `rm -f` removed it meanwhile; nothing to restart, only the client to tell.
            Err(state::StateError::NotFound(_)) => false,
            Err(e) => {
                report(
                    &mut log,
                    attached,
                    &format!("could not record the exit status ({code}) of container {id}: {e}"),
                );
                false
            }
        };
        if !restart {
            cleanup(root, &containers, id, Some(code));
            if attached {
                let _ = chan.send(&ToClient::Exited { code }, None);
            }
            return Ok(());
        }
        // As in Docker, an attached client gets this exit and leaves; the restarts go on
        // detached (`logs` and `attach` still reach them).
        if attached {
            let _ = chan.send(&ToClient::Exited { code }, None);
            attached = false;
            quiet_stdio();
        }
        // Docker's back-off: 100 ms doubling, reset after 10 s of running.
        if started_at.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(100);
        }
        let go_on = back_off(&containers, id, backoff);
        backoff = (backoff * 2).min(Duration::from_secs(60));
        if !go_on {
            break code;
        }
    };
    cleanup(root, &containers, id, Some(last));
    Ok(())
}

/// Wait out a restart back-off; false when the restart is off: a manual `stop` (or
/// `kill`) came meanwhile, or the container was removed. Otherwise counts the restart.
fn back_off(containers: &Containers, id: &str, backoff: Duration) -> bool {
    let until = Instant::now() + backoff;
    loop {
        match containers.load(id) {
            Ok(s) if s.manually_stopped => break,
            Ok(_) => {}
            Err(_) => return false,
        }
        let now = Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
    // Decided under the container's lock, so a `stop` either comes before (no restart)
    // or finds the new run to signal.
    let mut go_on = false;
    let decided = persist(containers, id, Retry::Long, |s| {
        go_on = !s.manually_stopped;
        if go_on {
            s.restart_count += 1;
        } else {
            s.restarting = false;
        }
    });
    decided.is_ok() && go_on
}

/// How hard to try a state write that fails (a full disk, say).
#[derive(Clone, Copy)]
enum Retry {
    /// Once more, then go on without it.
    Short,
    /// An exit status: 100 ms doubling up to 2 s between tries, about 17 s in all.
    Long,
}

/// Update the state, retrying with back-off; a removed container is not retried.
fn persist(
    containers: &Containers,
    id: &str,
    retry: Retry,
    mut f: impl FnMut(&mut ContainerState),
) -> Result<ContainerState, state::StateError> {
    let tries = match retry {
        Retry::Short => 2,
        Retry::Long => 13,
    };
    let mut pause = Duration::from_millis(100);
    let mut n = 1;
    loop {
        match containers.update(id, &mut f) {
            Ok(st) => return Ok(st),
            Err(e @ state::StateError::NotFound(_)) => return Err(e),
            Err(e) if n >= tries => return Err(e),
            Err(_) => {}
        }
        n += 1;
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// One line about a failure of ours: into the container's log, and to the attached
/// client's terminal.
fn report(log: &mut LogWriter, attached: bool, what: &str) {
    let line = format!("nsbox: {what}\n");
    let _ = log.write(Stream::Stderr, line.as_bytes());
    let _ = log.flush();
    if attached {
        let _ = fdio::write_all(std::io::stderr().as_fd(), line.as_bytes());
    }
}

/// Create and start the container with its stdio: a pty (init opens it and hands us the
/// master) or pipes that we read.
fn start(st: &ContainerState, spec: &Spec, detach: bool) -> Result<Run, MonitorError> {
    let mut stdio = Stdio::default();
    let mut out = Output {
        master: None,
        stdout: None,
        stderr: None,
        _stdin: None,
    };
    // Ends the container gets; closed here once it has them.
    let mut theirs: Vec<OwnedFd> = Vec::new();
    if !st.tty {
        let (r, w) = pipe2(OFlag::O_CLOEXEC)?;
        stdio.fds[1] = Some(w.as_raw_fd());
        out.stdout = Some(r);
        theirs.push(w);
        let (r, w) = pipe2(OFlag::O_CLOEXEC)?;
        stdio.fds[2] = Some(w.as_raw_fd());
        out.stderr = Some(r);
        theirs.push(w);
        if st.interactive && detach {
            // Nobody types into a detached container yet; an open pipe keeps `sh` waiting
            // instead of reading EOF, as in Docker.
            let (r, w) = pipe2(OFlag::O_CLOEXEC)?;
            stdio.fds[0] = Some(r.as_raw_fd());
            theirs.push(r);
            out._stdin = Some(w);
        } else if !st.interactive {
            let null = std::fs::File::open("/dev/null")?;
            let null = OwnedFd::from(null);
            stdio.fds[0] = Some(null.as_raw_fd());
            theirs.push(null);
        }
        // `-i` in the foreground: the container reads the client's stdin (our fd 0) directly.
    }
    let mut launched = runtime::create(spec, &st.rootfs, &st.id, stdio).map_err(failed)?;
    launched.start().map_err(failed)?;
    drop(theirs);
    out.master = launched.pty_master.take();
    Ok(Run { launched, out })
}

fn failed(e: RuntimeError) -> MonitorError {
    MonitorError::Failed {
        code: e.exit_code(),
        msg: e.to_string(),
    }
}

/// Point our stdio at /dev/null: a detached monitor must not hold the caller's terminal or
/// pipes open (a caller reading our stdout would wait for the container's end).
fn quiet_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            let _ = sys::dup2(null.as_raw_fd(), fd);
        }
    }
}

/// Copy output until pid 1 exits; returns its exit status (128+N for signal N).
fn relay(
    run: Run,
    log: &mut LogWriter,
    chan: &Channel,
    attached: &mut bool,
    attach_point: Option<&attach::AttachPoint>,
) -> Result<(Run, i32), MonitorError> {
    let mut buf = vec![0u8; 32 * 1024];
    let mut clients: Vec<Channel> = Vec::new();
    let mut sources: Vec<(OwnedFd, Stream)> = Vec::new();
    let Run { launched, out } = run;
    let Output {
        master,
        stdout,
        stderr,
        _stdin,
    } = out;
    let has_pty = master.is_some();
    if let Some(m) = master {
        sources.push((m, Stream::Stdout));
    }
    sources.extend(stdout.map(|f| (f, Stream::Stdout)));
    sources.extend(stderr.map(|f| (f, Stream::Stderr)));
    let mut open: Vec<bool> = vec![true; sources.len()];
    let code = loop {
        let mut fds = vec![PollFd::new(launched.pidfd.as_fd(), PollFlags::POLLIN)];
        let mut which = Vec::new();
        for (i, (fd, _)) in sources.iter().enumerate() {
            if open[i] {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        let chan_slot = if *attached {
            fds.push(PollFd::new(chan.as_fd(), PollFlags::POLLIN));
            Some(fds.len() - 1)
        } else {
            None
        };
        let listen_slot = attach_point.map(|a| {
            fds.push(PollFd::new(a.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let first_client = fds.len();
        for c in &clients {
            fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
        }
        let Some(ready) = fdio::ready(&mut fds)? else {
            continue;
        };
        drop(fds);
        for (slot, &i) in which.iter().enumerate() {
            if ready[slot + 1] {
                let (fd, stream) = &sources[i];
                match fdio::read_some(fd.as_fd(), &mut buf) {
                    Some(n) => {
                        forward(&buf[..n], *stream, log, attached);
                        broadcast(&mut clients, &buf[..n], *stream);
                    }
                    None => open[i] = false,
                }
            }
        }
        // Attach clients: messages from those there, then newcomers.
        let mut gone = Vec::new();
        for (k, c) in clients.iter().enumerate() {
            if !ready[first_client + k] {
                continue;
            }
            match c.recv::<ToMonitor>() {
                Ok(Some((ToMonitor::Signal(sig), _))) => {
                    let _ = sys::pidfd_send_signal(launched.pidfd.as_fd(), sig);
                }
                Ok(Some((ToMonitor::Stdin(data), _))) => {
                    if let Some(w) = &_stdin {
                        let _ = fdio::write_all(w.as_fd(), &data);
                    }
                }
                Ok(Some((ToMonitor::Detach, _))) | Ok(None) | Err(_) => gone.push(k),
            }
        }
        for k in gone.into_iter().rev() {
            clients.remove(k);
        }
        if let (Some(slot), Some(a)) = (listen_slot, attach_point) {
            if ready[slot] {
                while let Some(c) = a.accept() {
                    let master = sources
                        .first()
                        .filter(|_| has_pty)
                        .map(|(m, _)| m.as_raw_fd());
                    if c.send(&ToClient::Started { pid: launched.pid }, master)
                        .is_ok()
                    {
                        clients.push(c);
                    }
                }
            }
        }
        if let Some(slot) = chan_slot {
            if ready[slot] {
                match chan.recv::<ToMonitor>() {
                    Ok(Some((ToMonitor::Signal(sig), _))) => {
                        let _ = sys::pidfd_send_signal(launched.pidfd.as_fd(), sig);
                    }
                    Ok(Some((ToMonitor::Stdin(data), _))) => {
                        if let Some(w) = &_stdin {
                            let _ = fdio::write_all(w.as_fd(), &data);
                        }
                    }
                    // Detached, or the client is gone: the container goes on, logged only.
                    Ok(Some((ToMonitor::Detach, _))) | Ok(None) | Err(_) => {
                        *attached = false;
                        quiet_stdio();
                    }
                }
            }
        }
        if ready[0] {
            match waitpid(Pid::from_raw(launched.pid), Some(WaitPidFlag::WNOHANG))? {
                WaitStatus::Exited(_, code) => break code,
                WaitStatus::Signaled(_, sig, _) => break 128 + sig as i32,
                _ => {}
            }
        }
    };
    // What the container wrote just before it exited.
    for (i, (fd, stream)) in sources.iter().enumerate() {
        while open[i] {
            if !fdio::readable_now(fd.as_fd()) {
                break;
            }
            match fdio::read_some(fd.as_fd(), &mut buf) {
                Some(n) => forward(&buf[..n], *stream, log, attached),
                None => open[i] = false,
            }
        }
    }
    for c in &clients {
        let _ = c.send(&ToClient::Exited { code }, None);
    }
    let out = Output {
        master: None,
        stdout: None,
        stderr: None,
        _stdin,
    };
    Ok((Run { launched, out }, code))
}

/// Output to every attach client; a client that cannot take it is dropped.
fn broadcast(clients: &mut Vec<Channel>, data: &[u8], stream: Stream) {
    let stream = match stream {
        Stream::Stdout => 1,
        Stream::Stderr => 2,
    };
    clients.retain(|c| {
        data.chunks(16 * 1024).all(|chunk| {
            c.send(
                &ToClient::Output {
                    stream,
                    data: chunk.to_vec(),
                },
                None,
            )
            .is_ok()
        })
    });
}

/// Output goes to the log, and to our stdout/stderr (the client's) while attached.
fn forward(data: &[u8], stream: Stream, log: &mut LogWriter, attached: &mut bool) {
    let _ = log.write(stream, data);
    // If the client's terminal or pipe is gone, keep logging.
    if *attached && write_all(stream, data).is_err() {
        *attached = false;
    }
}

/// Unbuffered, so the container's output reaches the terminal as it comes.
fn write_all(stream: Stream, data: &[u8]) -> nix::Result<()> {
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    let fd = match stream {
        Stream::Stdout => stdout.as_fd(),
        Stream::Stderr => stderr.as_fd(),
    };
    fdio::write_all(fd, data)
}

/// Record the exit status, the OOM kill and the time; remove the cgroup. Returns whether
/// the restart policy calls for another run (then the state says "restarting"). A write
/// that fails is retried (a full disk may free up); the status is never guessed.
fn record_exit(
    containers: &Containers,
    id: &str,
    mut run: Run,
    code: i32,
) -> Result<bool, state::StateError> {
    let mut oom = false;
    if let Some(cg) = run.launched.cgroup.take() {
        oom = cg.oom_kills() > 0;
        let _ = cg.remove();
    }
    let mut restart = false;
    persist(containers, id, Retry::Long, |s| {
        s.status = Status::Exited;
        s.exit_code = Some(code);
        s.finished_at = Some(state::now_rfc3339());
        s.pid = 0;
        s.oom_killed = oom;
        restart = s
            .restart
            .should_restart(code, s.restart_count, s.manually_stopped);
        s.restarting = restart;
    })?;
    Ok(restart)
}

/// After the last run: unmount the rootfs, and with `--rm` remove the container, its name
/// and its anonymous volumes. `code`: the exit status to narrate (None: never started).
fn cleanup(root: &DataRoot, containers: &Containers, id: &str, code: Option<i32>) {
    let Ok(st) = containers.load(id) else {
        return; // `rm -f` got there first.
    };
    let _ = overlay::unmount(&st.rootfs);
    let _ = containers.update(id, |s| {
        s.monitor_pid = 0;
        s.monitor_start = 0;
        s.restarting = false;
    });
    let mut also: &[&str] = &[];
    if st.auto_remove {
        let _ = containers.remove(&st);
        let _ = volumes::remove_anonymous(root, &st);
        also = &["deleted container"];
    }
    if let Some(code) = code {
        crate::explain::exit(code, also);
    }
}
