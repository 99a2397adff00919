//! Container verbs: ps, rm, stats, update.

use super::{human, ExitError};
use crate::dataroot::DataRoot;
use crate::runtime::cgroups::Cgroup;
use crate::state::{ContainerState, Containers, Status};
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
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn dispatch(root: &DataRoot, cmd: ContainerCommands) -> Result<()> {
    match cmd {
        ContainerCommands::Ps(a) => ps(root, a),
        ContainerCommands::Rm(a) => rm(root, a),
        ContainerCommands::Inspect(a) => super::inspect::inspect(root, a),
        ContainerCommands::Stats(a) => super::stats::stats(root, a),
        ContainerCommands::Update(a) => super::update::update(root, *a),
    }
}

/// Docker's STATUS column, from what is true now (a dead pid 1 is not "Up").
pub fn status_text(st: &ContainerState) -> String {
    match st.status {
        Status::Created => "Created".into(),
        Status::Running if st.is_alive() => format!(
            "Up {}",
            human::since(st.started_at.as_deref().unwrap_or(""))
        ),
        Status::Running => "Exited (unknown)".into(),
        Status::Exited => {
            let code = st.exit_code.unwrap_or(0);
            let oom = if st.oom_killed { " (OOMKilled)" } else { "" };
            format!(
                "Exited ({code}){oom} {} ago",
                human::since(st.finished_at.as_deref().unwrap_or(""))
            )
        }
    }
}

fn ps(root: &DataRoot, a: PsArgs) -> Result<()> {
    let containers = Containers::open(root)?;
    let list: Vec<ContainerState> = containers
        .list()?
        .into_iter()
        .filter(|c| a.all || c.is_alive())
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
/// kill it first with `force`.
pub fn remove_one(
    root: &DataRoot,
    containers: &Containers,
    key: &str,
    force: bool,
    volumes: bool,
) -> Result<()> {
    let st = containers.resolve(key)?;
    if st.is_alive() {
        if !force {
            anyhow::bail!(
                "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                st.id
            );
        }
        kill_and_wait(&st);
    }
    overlay::unmount(&st.rootfs)?;
    if let Some(r) = &st.cgroup {
        // Gone already when the monitor cleaned up; left over when the monitor died.
        Cgroup::open(r).remove()?;
    }
    containers.remove(&st)?;
    if volumes {
        crate::storage::volumes::remove_anonymous(root, &st)?;
    }
    Ok(())
}

/// SIGKILL pid 1 (the kernel then kills the whole pid namespace) and wait until it is gone.
fn kill_and_wait(st: &ContainerState) {
    let pid = nix::unistd::Pid::from_raw(st.pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while st.is_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}
