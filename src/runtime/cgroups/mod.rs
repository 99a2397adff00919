//! The container's cgroup: created from the spec's `linux.resources` below the caller's
//! own cgroup (or `linux.cgroupsPath`), joined by init before it unshares its cgroup
//! namespace, read for OOM kills and usage, removed when the container is gone.
//!
//! Backends come from cgroups-rs: v2 (unified) when /sys/fs/cgroup is cgroup2, else v1
//! with one cgroup per controller hierarchy (hybrid hosts included).

mod device_filter;
pub mod freezer;
pub mod mode;
mod narrate;
pub mod resources;
pub mod stats;
mod v2;
pub mod view;

use crate::explain;
use cgroups_rs::fs::hierarchies::{V1, V2};
use cgroups_rs::fs::memory::MemController;
use cgroups_rs::fs::{Cgroup as FsCgroup, Controller};
pub use mode::Mode;
use oci_spec::runtime::{LinuxResources, Spec};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup: {0}: {1}")]
    Io(String, std::io::Error),
    #[error("cgroup: {0}")]
    Backend(String),
    #[error(
        "cgroup v2: cannot enable the {controller} controller in {cgroup}: it has processes of its own \
         (the \"no internal processes\" rule). nsbox does not move processes it does not own; \
         run nsbox from a cgroup without other processes, or pass --cgroup-parent to a cgroup that can delegate"
    )]
    InternalProcesses { cgroup: String, controller: String },
    #[error(
        "invalid cgroup path {0:?}: give cgroup names separated by '/', without '.', '..' or empty parts"
    )]
    InvalidPath(String),
}

/// cgroups-rs errors print their cause with `{:?}` ("fs error caused by: Os { code: 20, .. }"):
/// show the cause's own message instead, on one line.
fn backend(what: &str) -> impl FnOnce(cgroups_rs::fs::error::Error) -> CgroupError + '_ {
    move |e| {
        let msg = match std::error::Error::source(&e) {
            Some(cause) => cause.to_string(),
            None => e.to_string(),
        };
        CgroupError::Backend(format!("{what}: {}", msg.replace('\n', " ")))
    }
}

/// A cgroups path (`--cgroup-parent`, `linux.cgroupsPath`) names cgroups, nothing else: no
/// `.`/`..` (it would leave the hierarchy: mkdir outside cgroupfs), no empty parts.
/// One leading '/' (from the hierarchy root) and one trailing '/' are allowed.
pub fn validate_path(path: &str) -> Result<(), CgroupError> {
    let inner = path.strip_prefix('/').unwrap_or(path);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    let bad = inner.is_empty()
        || inner
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\0'));
    if bad {
        return Err(CgroupError::InvalidPath(path.to_string()));
    }
    Ok(())
}

/// Where a container's cgroup is: enough to find it again from state on disk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CgroupRef {
    pub mode: Mode,
    /// v2: the path below /sys/fs/cgroup. v1: the name below each hierarchy's parent.
    pub path: String,
    /// v1 only: each controller's parent path (the caller's own cgroup there).
    #[serde(default)]
    pub parents: HashMap<String, String>,
    /// Ancestor directories that did not exist before this cgroup was created (a new
    /// `--cgroup-parent`), deepest first: removed with it when they are empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_parents: Vec<PathBuf>,
}

pub struct Cgroup {
    cg: FsCgroup,
    pub reference: CgroupRef,
}

impl Cgroup {
    /// Create the cgroup for `spec` and apply its resources. Placement: `cgroupsPath` if
    /// the spec has one (absolute: from the hierarchy root; relative: below the caller's
    /// cgroup), else `nsbox-<id>` below the caller's own cgroup — never outside it.
    pub fn create(spec: &Spec, id: &str) -> Result<Option<Cgroup>, CgroupError> {
        let linux = spec.linux().as_ref();
        let mode = mode::detect();
        let own = mode::own_cgroups();
        let requested = linux.and_then(|l| l.cgroups_path().clone());
        if let Some(p) = &requested {
            validate_path(&p.to_string_lossy())?;
        }
        let (name, below_caller) = match &requested {
            Some(p) if p.is_absolute() => (
                p.to_string_lossy().trim_start_matches('/').to_string(),
                false,
            ),
            Some(p) => (p.to_string_lossy().into_owned(), true),
            None => (format!("nsbox-{id}"), true),
        };
        let reference = match mode {
            Mode::Unified => {
                let path = if below_caller {
                    join(own.get("").map(String::as_str).unwrap_or("/"), &name)
                } else {
                    name
                };
                let parent = Path::new(&path)
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // enable_down_to makes the missing parents: note them first.
                let created_parents = missing_ancestors(&[Path::new(mode::ROOT).join(&path)]);
                if let Err(e) = v2::enable_down_to(Path::new(mode::ROOT), &parent) {
                    remove_dirs(&created_parents);
                    return Err(e);
                }
                CgroupRef {
                    mode,
                    path,
                    parents: HashMap::new(),
                    created_parents,
                }
            }
            _ => CgroupRef {
                mode,
                path: name,
                parents: if below_caller { own } else { HashMap::new() },
                created_parents: Vec::new(),
            },
        };
        let mut cgroup = Cgroup::open(&reference);
        let dirs = cgroup.dirs();
        if let Some(outside) = dirs.iter().find(|d| !d.starts_with(mode::ROOT)) {
            return Err(CgroupError::InvalidPath(outside.display().to_string()));
        }
        if mode != Mode::Unified {
            cgroup.reference.created_parents = missing_ancestors(&dirs);
        }
        if let Err(e) = cgroup.cg.create() {
            // cgroups-rs stops at the first hierarchy that fails: undo the others.
            let _ = cgroup.cg.delete();
            cgroup.remove_created_parents();
            let what = format!("create {}", cgroup.reference.path);
            return Err(backend(&what)(e));
        }
        if let Some(res) = linux.and_then(|l| l.resources().as_ref()) {
            if let Err(e) = cgroup.apply(res) {
                let _ = cgroup.cg.delete();
                cgroup.remove_created_parents();
                return Err(e);
            }
            // v2 has no devices controller: the spec's device rules become a BPF program.
            if mode == Mode::Unified {
                let dir = Path::new(mode::ROOT).join(cgroup.reference.path.trim_start_matches('/'));
                if let Err(e) = device_filter::attach(&dir, &device_filter::rules(res)) {
                    let _ = cgroup.cg.delete();
                    return Err(e);
                }
            }
        }
        explain::step("cgroup", || {
            format!(
                "{mode}: mkdir {}; {}",
                explain::brace_paths(&cgroup.dirs()),
                narrate::limits_detail(&cgroup, linux.and_then(|l| l.resources().as_ref()))
            )
        });
        Ok(Some(cgroup))
    }

    /// A handle on an existing cgroup (for stats, update, removal after a crash).
    pub fn open(r: &CgroupRef) -> Cgroup {
        let cg = match r.mode {
            Mode::Unified => FsCgroup::load(Box::new(V2::new()), r.path.trim_start_matches('/')),
            _ => {
                FsCgroup::load_with_relative_paths(Box::new(V1::new()), &r.path, r.parents.clone())
            }
        };
        Cgroup {
            cg,
            reference: r.clone(),
        }
    }

    pub fn apply(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        let v2 = self.reference.mode == Mode::Unified;
        self.cg
            .apply(&resources::convert(res, v2))
            .map_err(backend("apply limits"))
    }

    /// The cgroup's directories, one per hierarchy (one on v2).
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.cg
            .subsystems()
            .iter()
            .map(|s| s.to_controller().path().to_path_buf())
            .collect()
    }

    /// Join the cgroup ourselves, as the single-threaded process about to become the
    /// container. On v1 we write "0" (ourselves) to each hierarchy's `tasks` file: moving
    /// just the calling thread lets the kernel skip the global threadgroup lock, whose RCU
    /// grace period otherwise costs ~10 ms per container start. On v2, `cgroup.procs`.
    pub fn join_self(&self) -> Result<(), CgroupError> {
        let file = if self.reference.mode == Mode::Unified {
            "cgroup.procs"
        } else {
            "tasks"
        };
        for dir in self.dirs() {
            let path = dir.join(file);
            std::fs::write(&path, "0")
                .map_err(|e| CgroupError::Io(format!("join {}", path.display()), e))?;
        }
        explain::step("cgroup", || {
            let files: Vec<PathBuf> = self.dirs().iter().map(|d| d.join(file)).collect();
            format!(
                "echo 0 > {} (init moves itself in)",
                explain::brace_paths(&files)
            )
        });
        Ok(())
    }

    /// The most memory the cgroup ever used: memory.peak on v2 (Linux 5.19+),
    /// memory.max_usage_in_bytes on v1. None if the kernel does not keep it.
    pub fn peak_memory(&self) -> Option<u64> {
        let mem = self.cg.controller_of::<MemController>()?;
        let file = if self.reference.mode == Mode::Unified {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        std::fs::read_to_string(mem.path().join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Whether the kernel's OOM killer killed something in this cgroup: `oom_kill` in
    /// memory.events on v2 (not `oom`, which also counts reclaim failures), in
    /// memory.oom_control on v1.
    pub fn oom_kills(&self) -> u64 {
        let Some(mem) = self.cg.controller_of::<MemController>() else {
            return 0;
        };
        let file = if self.reference.mode == Mode::Unified {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        let text = std::fs::read_to_string(mem.path().join(file)).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Remove the cgroup. Its processes are gone once pid 1 has been reaped (the pid
    /// namespace dies with it), but the kernel may take a moment to empty it: retry.
    pub fn remove(self) -> Result<(), CgroupError> {
        // Already gone: `rm -f` and the monitor may both clean up after a kill.
        if !self.dirs().iter().any(|d| d.exists()) {
            self.remove_created_parents();
            return Ok(());
        }
        if explain::enabled() {
            // Read now: the counters go with the directory.
            explain::record_cgroup_end(self.peak_memory(), self.oom_kills());
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut pause = Duration::from_micros(50);
        loop {
            match self.cg.delete() {
                Ok(()) => break,
                Err(_) if !self.dirs().iter().any(|d| d.exists()) => break,
                Err(_) if Instant::now() < deadline => {
                    // Usually empty within microseconds: back off from 50 µs up to 10 ms.
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
                Err(e) => return Err(backend("remove")(e)),
            }
        }
        explain::step("cgroup", || {
            format!("rmdir {}", explain::brace_paths(&self.dirs()))
        });
        self.remove_created_parents();
        explain::record_removed("removed cgroup");
        Ok(())
    }

    /// rmdir the parents this cgroup's creation made, deepest first. One still in use
    /// (another container below it, or its own tasks) is not empty and stays: rmdir fails.
    fn remove_created_parents(&self) {
        remove_dirs(&self.reference.created_parents);
    }
}

fn remove_dirs(dirs: &[PathBuf]) {
    let removed: Vec<&PathBuf> = dirs
        .iter()
        // Never rmdir outside cgroupfs, whatever state says.
        .filter(|d| d.starts_with(mode::ROOT) && std::fs::remove_dir(d).is_ok())
        .collect();
    if !removed.is_empty() {
        explain::step("cgroup", || {
            format!(
                "rmdir {} (parents nsbox made)",
                explain::brace_paths(&removed)
            )
        });
    }
}

/// The ancestors of `dirs` (below the hierarchy roots) that do not exist yet, deepest first.
fn missing_ancestors(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut missing = Vec::new();
    for dir in dirs {
        let mut at = dir.parent();
        while let Some(p) = at {
            if p.exists() || !p.starts_with(mode::ROOT) {
                break;
            }
            missing.push(p.to_path_buf());
            at = p.parent();
        }
    }
    missing.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    missing.dedup();
    missing
}

fn join(parent: &str, name: &str) -> String {
    format!("{}/{}", parent.trim_end_matches('/'), name)
        .trim_start_matches('/')
        .to_string()
}
