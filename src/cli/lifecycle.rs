//! Container lifecycle verbs: stop, kill, start, restart, wait, rename, top.
//! Signals go straight to the container's pid 1 (checked against its start time, so a
//! reused pid is never hit); the monitor sees the exit and records it.

use super::{human, run, ExitError};
use crate::dataroot::DataRoot;
use crate::monitor::client::{self, ClientOptions};
use crate::state::{ContainerState, Containers, Phase, Status};
use crate::storage::{overlay, volumes::Volumes};
use anyhow::{Context, Result};
use clap::Args;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use std::fs;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(short = 't', long = "time", default_value_t = 10)]
    pub time: u64,
    /// Signal to send first (default SIGTERM).
    #[arg(short = 's', long = "signal")]
    pub signal: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send (name or number).
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    pub signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach stdout/stderr and wait for the container's exit.
    #[arg(short, long)]
    pub attach: bool,
    /// Attach stdin.
    #[arg(short, long)]
    pub interactive: bool,
    /// Key sequence for detaching.
    #[arg(long = "detach-keys", default_value = client::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Narrate every step in kernel terms on stderr.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "text", require_equals = true)]
    pub explain: Option<run::ExplainFormat>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process.
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Key sequence for detaching.
    #[arg(long = "detach-keys", default_value = client::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    pub container: String,
}

/// Apply `f` to each container; report failures Docker's way (each on stderr, exit 1).
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut failed = 0;
    for n in names {
        match f(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e:#}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(ExitError::new(1, format!("{failed} container(s) failed")).into());
    }
    Ok(())
}

/// `SIGTERM`, `TERM`, `term` or `15`.
pub fn parse_signal(s: &str) -> Result<Signal> {
    let bad = || ExitError::new(125, format!("invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad().into());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map_err(|_| bad().into())
}

fn not_running(st: &ContainerState) -> anyhow::Error {
    anyhow::anyhow!("Container {} is not running", st.id)
}

/// Signal pid 1 of a running container.
fn signal(st: &ContainerState, sig: Signal) -> Result<()> {
    if !st.is_alive() {
        return Err(not_running(st));
    }
    kill(Pid::from_raw(st.pid), sig).with_context(|| format!("signal {}", st.id))
}

/// Mark the container as stopped by the user (no restart), then signal it.
fn stop_signal(containers: &Containers, st: &ContainerState, sig: Signal) -> Result<()> {
    containers.update(&st.id, |s| s.manually_stopped = true)?;
    signal(st, sig)
}

/// Whether the container's monitor will still change its state: pid 1 runs, its exit is
/// being recorded, or a restart is pending.
fn settling(st: &ContainerState) -> bool {
    st.is_alive() || (st.monitor_alive() && (st.status == Status::Running || st.restarting))
}

/// Until pid 1 is gone and its monitor has recorded the exit, restarts included (or
/// `deadline`).
pub fn wait_stopped(containers: &Containers, id: &str, deadline: Option<Instant>) -> bool {
    loop {
        match containers.load(id) {
            Ok(st) if settling(&st) => {}
            _ => return true,
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn stop(root: &DataRoot, a: StopArgs) -> Result<()> {
    let containers = Containers::open(root)?;
    let first = parse_signal(a.signal.as_deref().unwrap_or("TERM"))?;
    each(&a.containers, |key| {
        let st = containers.resolve(key)?;
        stop_one(&containers, &st, first, Duration::from_secs(a.time))
    })
}

/// Stop a container as Docker does: no more restarts (a pending one is cancelled), `sig`
/// to pid 1, SIGKILL after `grace`; returns once its monitor has recorded the end.
fn stop_one(
    containers: &Containers,
    st: &ContainerState,
    sig: Signal,
    grace: Duration,
) -> Result<()> {
    if !settling(st) {
        return Ok(()); // Docker: stopping a stopped container is fine.
    }
    containers.update(&st.id, |s| s.manually_stopped = true)?;
    // A run its monitor started just before it saw the flag is signalled too.
    let mut signalled: Option<(i32, Instant, bool)> = None;
    let give_up = Instant::now() + grace + Duration::from_secs(20);
    loop {
        let Ok(now) = containers.load(&st.id) else {
            return Ok(()); // removed meanwhile (--rm)
        };
        if now.is_alive() {
            match &mut signalled {
                Some((pid, escalate, killed)) if *pid == now.pid => {
                    if !*killed && Instant::now() >= *escalate {
                        // pid 1 ignored the signal (no handler: the kernel protects init).
                        let _ = signal(&now, Signal::SIGKILL);
                        *killed = true;
                    }
                }
                _ => {
                    signal(&now, sig)?;
                    signalled = Some((now.pid, Instant::now() + grace, false));
                }
            }
        } else if !settling(&now) {
            return Ok(());
        }
        if Instant::now() >= give_up {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn kill_cmd(root: &DataRoot, a: KillArgs) -> Result<()> {
    let containers = Containers::open(root)?;
    let sig = parse_signal(&a.signal)?;
    each(&a.containers, |key| {
        let st = containers.resolve(key)?;
        if st.phase() == Phase::Restarting {
            // Docker: no process to signal; cancelling the pending restart is the kill.
            containers.update(&st.id, |s| s.manually_stopped = true)?;
            return Ok(());
        }
        stop_signal(&containers, &st, sig)
    })
}

pub fn start(root: &DataRoot, a: StartArgs) -> Result<i32> {
    run::enable_explain(a.explain);
    let containers = Containers::open(root)?;
    if a.attach || a.interactive {
        // One container, attached: its exit status is ours.
        let [key] = a.containers.as_slice() else {
            return Err(ExitError::new(
                125,
                "you cannot start and attach multiple containers at once",
            )
            .into());
        };
        let st = containers.resolve(key)?;
        let opts = ClientOptions {
            sig_proxy: true,
            stdin: a.interactive,
            detach_keys: client::parse_detach_keys(&a.detach_keys)
                .map_err(|e| ExitError::new(125, e))?,
        };
        if st.tty && a.interactive && !std::io::stdin().is_terminal() {
            return Err(ExitError::new(1, "the input device is not a TTY").into());
        }
        return start_one(root, &containers, &st, Some(&opts));
    }
    each(&a.containers, |key| {
        let st = containers.resolve(key)?;
        start_one(root, &containers, &st, None).map(|_| ())
    })?;
    Ok(0)
}

/// Start a created or exited container again on its own upper dir: mount its overlay,
/// make sure its volumes exist, and hand it to a new monitor.
fn start_one(
    root: &DataRoot,
    containers: &Containers,
    st: &ContainerState,
    attach: Option<&ClientOptions>,
) -> Result<i32> {
    if st.is_alive() {
        return Ok(0); // Docker: starting a running container is a no-op.
    }
    let spec = Spec::load(st.bundle.join("config.json")).context("load config.json")?;
    if !st.lower_dirs.is_empty() {
        let paths = overlay::OverlayPaths::for_container(&st.bundle, st.lower_dirs.clone());
        overlay::unmount(&paths.merged)?;
        overlay::mount_overlay(&root.overlay(), &paths)?;
    }
    let volumes = Volumes::open(root)?;
    for m in st.mounts.iter().filter(|m| m.typ == "volume") {
        volumes.create(Some(&m.name), Default::default())?;
        fs::create_dir_all(volumes.data_dir(&m.name))?;
    }
    let st = containers.update(&st.id, |s| {
        s.manually_stopped = false;
        s.status = Status::Created;
    })?;
    let detached = ClientOptions {
        sig_proxy: false,
        stdin: false,
        detach_keys: Vec::new(),
    };
    run::launch(
        root,
        &st.id,
        || Ok(spec),
        attach.is_none(),
        attach.unwrap_or(&detached),
    )
}

pub fn restart(root: &DataRoot, a: StopArgs) -> Result<()> {
    let containers = Containers::open(root)?;
    each(&a.containers, |key| {
        let st = containers.resolve(key)?;
        stop_one(
            &containers,
            &st,
            Signal::SIGTERM,
            Duration::from_secs(a.time),
        )?;
        wait_stopped(&containers, &st.id, None);
        let st = containers.load(&st.id)?;
        start_one(root, &containers, &st, None).map(|_| ())
    })
}

pub fn wait(root: &DataRoot, a: WaitArgs) -> Result<()> {
    let containers = Containers::open(root)?;
    let mut failed = 0;
    for key in &a.containers {
        match containers.resolve(key) {
            Ok(st) => {
                wait_stopped(&containers, &st.id, None);
                // Never a guess: an exit nobody recorded is an error, not a status.
                match containers.load(&st.id).map(|s| s.known_exit_code()) {
                    Ok(Some(code)) => println!("{code}"),
                    Ok(None) | Err(_) => {
                        eprintln!(
                            "Error response from daemon: container {}: exit status unknown",
                            st.id
                        );
                        failed += 1;
                    }
                }
            }
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(ExitError::new(1, format!("{failed} container(s) failed")).into());
    }
    Ok(())
}

pub fn rename(root: &DataRoot, a: RenameArgs) -> Result<()> {
    let containers = Containers::open(root)?;
    let st = containers.resolve(&a.container)?;
    containers.reserve_name(&a.new_name, &st.id)?;
    if let Err(e) = containers.update(&st.id, |s| s.name = a.new_name.clone()) {
        // The old name stays the container's: the new one is free again.
        containers.release_name_of(&a.new_name, &st.id);
        return Err(e.into());
    }
    containers.release_name_of(&st.name, &st.id);
    Ok(())
}

/// `top`: the container's processes, found by their pid namespace (the same inode as
/// pid 1's), shown with host pids like `docker top`.
pub fn top(root: &DataRoot, a: TopArgs) -> Result<()> {
    let containers = Containers::open(root)?;
    let st = containers.resolve(&a.container)?;
    if !st.is_alive() {
        return Err(ExitError::new(1, not_running(&st).to_string()).into());
    }
    let ns = |pid: &str| fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let want = ns(&st.pid.to_string()).context("read the container's pid namespace")?;
    let mut rows = Vec::new();
    for e in fs::read_dir("/proc")?.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) || ns(&pid).as_ref() != Some(&want) {
            continue;
        }
        if let Some(row) = proc_row(&pid) {
            rows.push(row);
        }
    }
    rows.sort_by_key(|r| r[1].parse::<u64>().unwrap_or(0));
    print!(
        "{}",
        human::table(&["UID", "PID", "PPID", "TIME", "CMD"], &rows)
    );
    Ok(())
}

/// UID, PID, PPID, cpu TIME and command line of one process, from /proc.
fn proc_row(pid: &str) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ppid = f.get(1)?.to_string();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let secs = ticks / 100;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("?")
        .to_string();
    let cmd = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut cmd = String::from_utf8_lossy(&cmd)
        .replace('\0', " ")
        .trim()
        .to_string();
    if cmd.is_empty() {
        cmd = format!("[{}]", &stat[stat.find('(')? + 1..stat.rfind(')')?]);
    }
    Some(vec![
        uid,
        pid.to_string(),
        ppid,
        format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
        cmd,
    ])
}

/// `attach`: connect to a running container's monitor; its output from now on, our input
/// to it, until it exits (its status is ours) or we detach.
pub fn attach(root: &DataRoot, a: AttachArgs) -> Result<i32> {
    let containers = Containers::open(root)?;
    let st = containers.resolve(&a.container)?;
    if !st.is_alive() {
        return Err(ExitError::new(
            1,
            "You cannot attach to a stopped container, start it first",
        )
        .into());
    }
    let stdin = !a.no_stdin && (st.interactive || st.tty);
    if st.tty && stdin && !std::io::stdin().is_terminal() {
        return Err(ExitError::new(1, "the input device is not a TTY").into());
    }
    let opts = ClientOptions {
        sig_proxy: a.sig_proxy,
        stdin,
        detach_keys: client::parse_detach_keys(&a.detach_keys)
            .map_err(|e| ExitError::new(125, e))?,
    };
    let chan = crate::monitor::attach::connect_to(&st.state_dir())
        .with_context(|| format!("attach to {}: its monitor is not reachable", st.id))?;
    let master = match chan.recv::<crate::monitor::ToClient>()? {
        Some((crate::monitor::ToClient::Started { .. }, master)) => master,
        _ => return Err(ExitError::new(1, "the container is stopping").into()),
    };
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_BLOCK,
        Some(&crate::runtime::process::monitored_signals()),
        None,
    )?;
    match client::attach(&chan, master, &opts, true)? {
        client::End::Exited(code) => Ok(code),
        client::End::Detached => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("sigkill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), Signal::SIGUSR1);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }
}
