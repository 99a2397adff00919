//! cgroup v2 delegation: a controller is usable in a cgroup only if every ancestor lists
//! it in `cgroup.subtree_control`. We enable what the container needs top-down and stop
//! with an explanation on the "no internal processes" rule instead of moving anybody.

use super::CgroupError;
use crate::explain;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

/// Controllers the container's limits may need, in the order runc enables them.
const WANTED: [&str; 5] = ["cpuset", "cpu", "io", "memory", "pids"];

/// Enable WANTED (those the kernel offers) in the subtree_control of `root` and of
/// every directory from it down to, and including, `parent` (relative to `root`).
pub fn enable_down_to(root: &Path, parent: &str) -> Result<(), CgroupError> {
    let mut dir = root.to_path_buf();
    let mut dirs = vec![dir.clone()];
    for part in parent.split('/').filter(|p| !p.is_empty()) {
        dir.push(part);
        dirs.push(dir.clone());
    }
    for (i, d) in dirs.into_iter().enumerate() {
        if !d.exists() {
            fs::create_dir(&d).map_err(|e| CgroupError::Io(format!("mkdir {}", d.display()), e))?;
        }
        let available = fs::read_to_string(d.join("cgroup.controllers")).unwrap_or_default();
        let enabled = fs::read_to_string(d.join("cgroup.subtree_control")).unwrap_or_default();
        let missing = WANTED.iter().find(|c| {
            available.split_whitespace().any(|a| a == **c)
                && !enabled.split_whitespace().any(|e| e == **c)
        });
        // Only the root may have both processes and controllers for its children. Check
        // first: the kernel would accept some controllers and refuse others midway.
        if let Some(c) = missing {
            let has_procs = fs::read_to_string(d.join("cgroup.procs"))
                .map(|p| !p.trim().is_empty())
                .unwrap_or(false);
            if i > 0 && has_procs {
                return Err(CgroupError::InternalProcesses {
                    cgroup: d.display().to_string(),
                    controller: c.to_string(),
                });
            }
        }
        for c in WANTED {
            if !available.split_whitespace().any(|a| a == c)
                || enabled.split_whitespace().any(|e| e == c)
            {
                continue;
            }
            let file = d.join("cgroup.subtree_control");
            match fs::write(&file, format!("+{c}")) {
                Ok(()) => explain::step("cgroup", || format!("echo +{c} > {}", file.display())),
                Err(e)
                    if e.raw_os_error() == Some(libc::EBUSY)
                        || e.kind() == ErrorKind::ResourceBusy =>
                {
                    return Err(CgroupError::InternalProcesses {
                        cgroup: d.display().to_string(),
                        controller: c.to_string(),
                    });
                }
                Err(e) => {
                    return Err(CgroupError::Io(
                        format!("enable {c} in {}", file.display()),
                        e,
                    ))
                }
            }
        }
    }
    Ok(())
}
