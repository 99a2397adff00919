//! `nsbox update`: change a running container's limits, like `docker update`.
//!
//! The new limits are the old ones (state's `host_config`) with the given flags applied
//! and validated by the same code as `run`; then they are written to the live cgroup,
//! to the state, and to the bundle's config.json (`linux.resources`, device rules kept),
//! so the spec stays the truth.
//!
//! Only running containers can be updated (a stopped one has no cgroup to change).
//!
//! Memory on v1: the kernel requires memory.limit_in_bytes ≤ memory.memsw.limit_in_bytes
//! at every moment, and cgroups-rs writes the memory limit first. When the new memory
//! limit is above the current memsw limit, memsw is written first (only possible when
//! --memory-swap is part of the new settings; otherwise validation has already refused,
//! as Docker does: "Minimum memoryswap limit should be larger than memory limit"). When
//! swap was never set, memsw stays unlimited and -m alone just moves the memory limit.

use super::resources::ResourceArgs;
use super::{ExitError, EXIT_NSBOX};
use crate::dataroot::DataRoot;
use crate::runtime::cgroups::{Cgroup, Mode};
use crate::spec::resources::{to_linux, ResourceOptions};
use crate::state::{ContainerState, Containers};
use anyhow::{Context, Result};
use clap::Args;
use oci_spec::runtime::{LinuxMemory, LinuxResources, Spec};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn update(root: &DataRoot, a: UpdateArgs) -> Result<()> {
    if a.resources.is_empty() {
        return Err(ExitError::new(
            EXIT_NSBOX,
            "you must provide one or more flags when using this command",
        )
        .into());
    }
    let containers = Containers::open(root)?;
    let mut failed = 0;
    for key in &a.containers {
        match update_one(&containers, key, &a.resources) {
            Ok(()) => println!("{key}"),
            Err(e) => {
                super::report(&e);
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(ExitError::reported(EXIT_NSBOX).into());
    }
    Ok(())
}

fn update_one(containers: &Containers, key: &str, args: &ResourceArgs) -> Result<()> {
    let st = containers.resolve(key)?;
    if !st.is_alive() {
        anyhow::bail!(
            "Cannot update container {}: container is not running",
            st.id
        );
    }
    let Some(r) = &st.cgroup else {
        anyhow::bail!("Cannot update container {}: it has no cgroup", st.id);
    };
    // Parse and validate everything before touching anything.
    let new = args.apply_to(&st.host_config)?;
    let mut res = to_linux(&new);
    let cg = Cgroup::open(r);
    if r.mode != Mode::Unified {
        raise_memsw_first(&cg, &res)?;
    }
    // No device rules: they have not changed, and rewriting v1's devices.deny on a live
    // container would briefly deny everything.
    res.set_devices(None);
    cg.apply(&res)
        .with_context(|| format!("Cannot update container {}", st.id))?;
    containers.update(&st.id, |s| {
        let parent = s.host_config.cgroup_parent.clone();
        s.host_config = ResourceOptions {
            cgroup_parent: parent,
            ..new.clone()
        };
    })?;
    rewrite_spec(&st, &new)
}

/// v1: if the new memory limit is above the current memsw limit, write memsw first.
fn raise_memsw_first(cg: &Cgroup, res: &LinuxResources) -> Result<()> {
    let Some(mem) = res.memory() else {
        return Ok(());
    };
    let (Some(limit), Some(swap)) = (mem.limit(), mem.swap()) else {
        return Ok(());
    };
    let Some(dir) = cg.dir_of("memory") else {
        return Ok(());
    };
    let current: i64 = std::fs::read_to_string(dir.join("memory.memsw.limit_in_bytes"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(i64::MAX);
    if limit > current {
        let mut only_swap = LinuxResources::default();
        let mut m = LinuxMemory::default();
        m.set_swap(Some(swap));
        only_swap.set_memory(Some(m));
        cg.apply(&only_swap)
            .context("raise memory+swap limit before memory limit")?;
    }
    Ok(())
}

/// config.json's `linux.resources` := the new limits, keeping its device rules.
fn rewrite_spec(st: &ContainerState, new: &ResourceOptions) -> Result<()> {
    let path = st.bundle.join("config.json");
    let mut spec = Spec::load(&path).with_context(|| format!("load {}", path.display()))?;
    if let Some(linux) = spec.linux_mut() {
        let mut res = to_linux(new);
        res.set_devices(linux.resources().as_ref().and_then(|r| r.devices().clone()));
        linux.set_resources(Some(res));
    }
    // Write next to it and rename, so a reader never sees half a spec.
    let tmp = st.bundle.join("config.json.tmp");
    crate::dataroot::write_json_private(&tmp, &spec)
        .with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("rename {}", path.display()))?;
    Ok(())
}
