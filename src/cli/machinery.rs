//! Commands that show the machinery: a container's namespaces next to nsbox's own
//! (`ns`), its cgroup files (`cgroup`), and the host facts behind both (`info`).

use crate::dataroot::DataRoot;
use anyhow::Result;
use clap::{Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Compare a running container's namespaces with nsbox's own, inode by inode.
    Ns(super::ns::NsArgs),
    /// Show a running container's cgroup: paths, limits, usage, peaks, event counters.
    Cgroup(super::cgroup_view::CgroupArgs),
    /// Show host facts: kernel, cgroup mode and controllers, overlay, user namespaces, data root.
    Info(super::info::InfoArgs),
}

/// Output format of the machinery commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

pub fn dispatch(root: &DataRoot, cmd: Commands) -> Result<()> {
    let out = match cmd {
        Commands::Ns(a) => super::ns::ns(root, a)?,
        Commands::Cgroup(a) => super::cgroup_view::cgroup(root, a)?,
        Commands::Info(a) => super::info::info(root, a)?,
    };
    print!("{out}");
    Ok(())
}

/// The container, which must be running (its pid 1 is what the views look at).
pub(super) fn running(
    containers: &crate::state::Containers,
    key: &str,
) -> Result<crate::state::ContainerState> {
    let st = containers.resolve(key)?;
    if !st.is_alive() {
        return Err(super::ExitError::new(1, format!("Container {key} is not running")).into());
    }
    Ok(st)
}
