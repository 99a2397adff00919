//! Container verbs: ps, rm (and the others' dispatch: stats, update, logs, lifecycle).

use super::{human, ExitError};
use crate::dataroot::DataRoot;
use crate::runtime::cgroups::mode::{self, Mode};
use crate::runtime::cgroups::{Cgroup, CgroupRef};
use crate::state::{ContainerState, Containers, Phase};
use crate::storage::overlay;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum ContainerCommands {
    /// List containers.
    Ps(PsArgs),
    /// Remove one or more containers.
    Rm(RmArgs),
    /// Show low-level information on containers and images (JSON, or -f TEMPLATE).
    Inspect(super::inspect::InspectArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(super::stats::StatsArgs),
    /// Update configuration (resource limits) of one or more running containers.
    Update(Box<super::update::UpdateArgs>),
    /// Attach your terminal to a running container's input and output.
    Attach(super::lifecycle::AttachArgs),
    /// Run a command in a running container.
    Exec(super::exec::ExecArgs),
    /// Fetch the logs of a container.
    Logs(super::logs::LogsArgs),
    /// Stop one or more running containers (SIGTERM, then SIGKILL after a grace period).
    Stop(super::lifecycle::StopArgs),
    /// Kill one or more running containers (SIGKILL or -s SIGNAL).
    Kill(super::lifecycle::KillArgs),
    /// Start one or more stopped containers.
    Start(super::lifecycle::StartArgs),
    /// Restart one or more containers.
    Restart(super::lifecycle::StopArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(super::lifecycle::WaitArgs),
    /// Rename a container.
    Rename(super::lifecycle::RenameArgs),
    /// Display the running processes of a container.
    Top(super::lifecycle::TopArgs),
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short, long)]
    pub force: bool,
    /// Remove the anonymous volumes the container created.
    #[arg(short, long)]
    pub volumes: bool,
    /// Narrate every teardown step in kernel terms on stderr.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "text", require_equals = true)]
    pub explain: Option<super::run::ExplainFormat>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Run a container verb; the exit status is nsbox's (the container's for `start -a`).
pub fn dispatch(root: &DataRoot, cmd: ContainerCommands) -> Result<i32> {
    use super::lifecycle as l;
    let done = |r: Result<()>| r.map(|()| 0);
    match cmd {
        ContainerCommands::Ps(a) => done(ps(root, a)),
        ContainerCommands::Rm(a) => done(rm(root, a)),
        ContainerCommands::Inspect(a) => done(super::inspect::inspect(root, a)),
        ContainerCommands::Stats(a) => done(super::stats::stats(root, a)),
        ContainerCommands::Update(a) => done(super::update::update(root, *a)),
        ContainerCommands::Attach(a) => l::attach(root, a),
        ContainerCommands::Exec(a) => super::exec::exec(root, a),
        ContainerCommands::Logs(a) => done(super::logs::logs(root, a)),
        ContainerCommands::Stop(a) => done(l::stop(root, a)),
        ContainerCommands::Kill(a) => done(l::kill_cmd(root, a)),
        ContainerCommands::Start(a) => l::start(root, a),
        ContainerCommands::Restart(a) => done(l::restart(root, a)),
        ContainerCommands::Wait(a) => done(l::wait(root, a)),
        ContainerCommands::Rename(a) => done(l::rename(root, a)),
        ContainerCommands::Top(a) => done(l::top(root, a)),
    }
}

/// Docker's STATUS column, from what is true now (a dead pid 1 is not "Up", an exit
/// nobody recorded is not "Exited (0)").
pub fn status_text(st: &ContainerState) -> String {
    let finished = || human::since(st.finished_at.as_deref().unwrap_or(""));
    match st.phase() {
        Phase::Created => "Created".into(),
        Phase::Running => format!(
            "Up {}",
            human::since(st.started_at.as_deref().unwrap_or(""))
        ),
        Phase::Restarting => format!(
            "Restarting ({}) {} ago",
            st.exit_code.unwrap_or(0),
            finished()
        ),
        Phase::Exited => {
            let code = st.exit_code.unwrap_or(0);
            let oom = if st.oom_killed { " (OOMKilled)" } else { "" };
            format!("Exited ({code}){oom} {} ago", finished())
        }
        Phase::Dead => "Dead".into(),
    }
}

fn ps(root: &DataRoot, a: PsArgs) -> Result<()> {
    let containers = Containers::open(root)?;
    let list: Vec<ContainerState> = containers
        .list()?
        .into_iter()
        // Docker lists restarting containers with the running ones.
        .filter(|c| a.all || matches!(c.phase(), Phase::Running | Phase::Restarting))
        .collect();
    if a.quiet {
        for c in &list {
            println!("{}", if a.no_trunc { &c.id } else { c.short_id() });
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let mut cmd = c.command.join(" ");
            if !a.no_trunc && cmd.chars().count() > 20 {
                cmd = cmd.chars().take(19).collect::<String>() + "…";
            }
            vec![
                if a.no_trunc {
                    c.id.clone()
                } else {
                    c.short_id().to_string()
                },
                if c.image.is_empty() {
                    "(bundle)".into()
                } else {
                    c.image.clone()
                },
                format!("\"{cmd}\""),
                format!("{} ago", human::since(&c.created)),
                status_text(c),
                c.name.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        human::table(
            &[
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "NAMES"
            ],
            &rows
        )
    );
    Ok(())
}

fn rm(root: &DataRoot, a: RmArgs) -> Result<()> {
    super::run::enable_explain(a.explain);
    let containers = Containers::open(root)?;
    let mut failed = 0;
    for key in &a.containers {
        match remove_one(root, &containers, key, a.force, a.volumes) {
            Ok(()) => println!("{key}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e:#}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        // Docker exits 1 when some removals failed; the messages are already printed.
        return Err(
            ExitError::new(1, format!("{failed} container(s) could not be removed")).into(),
        );
    }
    Ok(())
}

/// Remove a container and everything it owns (its anonymous volumes too with `volumes`);
/// kill it first with `force`. Whatever is on disk goes, whatever state it is in: a
/// container whose creator or monitor died (Dead), even a dir without a state.
pub fn remove_one(
    root: &DataRoot,
    containers: &Containers,
    key: &str,
    force: bool,
    volumes: bool,
) -> Result<()> {
    let mut st = containers.resolve(key)?;
    let busy = st.is_alive() || st.monitor_alive();
    if busy {
        if !force {
            let what = match st.phase() {
                Phase::Restarting => "restarting",
                _ => "running",
            };
            anyhow::bail!(
                "You cannot remove a {what} container {}. Stop the container before attempting removal or force remove",
                st.id
            );
        }
        st = settle(containers, st);
    }
    overlay::unmount(&st.rootfs)?;
    for cg in cgroups_of(&st) {
        // Gone already when the monitor cleaned up; left over when the monitor died.
        Cgroup::open(&cg).remove()?;
    }
    containers.remove(&st)?;
    crate::explain::step("state", || {
        format!(
            "rm -rf {} (config, state, log, upper dir)",
            st.state_dir().display()
        )
    });
    if volumes {
        crate::storage::volumes::remove_anonymous(root, &st)?;
    }
    Ok(())
}

/// Stop a container and its monitor for good: no restart, pid 1 killed, and the monitor
/// given time to record the end and clean up; killed if it does not. Returns the state
/// left (the monitor may have removed the container already: `--rm`).
fn settle(containers: &Containers, st: ContainerState) -> ContainerState {
    let _ = containers.update(&st.id, |s| s.manually_stopped = true);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = st.clone();
    loop {
        if now.is_alive() {
            kill_and_wait(&now);
        }
        if !now.monitor_alive() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        match containers.load(&st.id) {
            Ok(s) => now = s,
            Err(_) => return st, // removed by its monitor (--rm): only leftovers to sweep
        }
    }
    if now.monitor_alive() {
        // Stuck (or creating the container at this very moment): it goes too.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(now.monitor_pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let until = Instant::now() + Duration::from_secs(5);
        while now.monitor_alive() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Ok(s) = containers.load_or_dead(&st.id) {
            now = s;
        }
        if now.is_alive() {
            kill_and_wait(&now);
        }
    }
    now
}

/// The cgroups the container may have: the one recorded, or — if its monitor died before
/// recording it — the one nsbox names for it (`nsbox-<id>` below our own cgroup, or below
/// `--cgroup-parent`).
fn cgroups_of(st: &ContainerState) -> Vec<CgroupRef> {
    if let Some(r) = &st.cgroup {
        return vec![r.clone()];
    }
    let name = format!("nsbox-{}", st.id);
    let parent = st.host_config.cgroup_parent.trim_end_matches('/');
    let mode = mode::detect();
    let own = mode::own_cgroups();
    let r = match (mode, parent) {
        (Mode::Unified, "") => CgroupRef {
            mode,
            path: format!(
                "{}/{name}",
                own.get("")
                    .map(String::as_str)
                    .unwrap_or("")
                    .trim_end_matches('/')
            )
            .trim_start_matches('/')
            .to_string(),
            parents: Default::default(),
        },
        (Mode::Unified, p) => CgroupRef {
            mode,
            path: format!("{}/{name}", p.trim_start_matches('/')),
            parents: Default::default(),
        },
        (_, "") => CgroupRef {
            mode,
            path: name,
            parents: own,
        },
        (_, p) => CgroupRef {
            mode,
            path: format!("{}/{name}", p.trim_start_matches('/')),
            // Relative: below our own cgroup in each hierarchy.
            parents: if p.starts_with('/') {
                Default::default()
            } else {
                own
            },
        },
    };
    vec![r]
}

/// SIGKILL pid 1 (the kernel then kills the whole pid namespace) and wait until it is gone.
fn kill_and_wait(st: &ContainerState) {
    let pid = nix::unistd::Pid::from_raw(st.pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    crate::explain::step("kill", || {
        format!(
            "kill -KILL {} (pid 1: the kernel then kills every process of its pid namespace)",
            st.pid
        )
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while st.is_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}
