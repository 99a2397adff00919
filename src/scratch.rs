//! Scratch space: every temporary thing nsbox makes under `<root>/tmp` (a layer being
//! unpacked, a blob being downloaded or committed, a volume being built or removed), and the
//! one sweeper that removes what a killed process left there.
//!
//! A temp entry is named `<pid>-<start>-<what>-<n>`: the pid and start time (clock ticks
//! since boot, from /proc/PID/stat) of the process that made it. The sweeper removes an
//! entry whose maker is no longer that live process — pid reuse cannot fool it. An entry
//! is removed when its [`TempPath`] is dropped, unless [`TempPath::keep`] was called (it
//! was renamed into place).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A path under a scratch dir that is removed on drop (file or directory tree).
#[derive(Debug)]
pub struct TempPath {
    pub path: PathBuf,
    keep: bool,
}

impl TempPath {
    /// A new, not yet created, path in `dir` for `what` (a short word: "layer", "blob"…).
    pub fn new(dir: &Path, what: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{}-{}-{what}-{}",
            std::process::id(),
            own_start_time(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        TempPath {
            path: dir.join(name),
            keep: false,
        }
    }

    /// It was moved into place: do not remove it on drop.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if !self.keep {
            remove_any(&self.path);
        }
    }
}

/// Remove a file or a directory tree; a missing path is fine.
pub fn remove_any(path: &Path) {
    let _ = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    };
}

/// Our own start time, read once per process: a forked child has its own pid and start
/// time, so the cache is keyed by the pid that read it.
fn own_start_time() -> u64 {
    static PID: AtomicU64 = AtomicU64::new(0);
    static START: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    if PID.load(Ordering::Relaxed) != u64::from(pid) {
        START.store(proc_start_time(pid as i32).unwrap_or(0), Ordering::Relaxed);
        PID.store(u64::from(pid), Ordering::Relaxed);
    }
    START.load(Ordering::Relaxed)
}

/// Start time of a process in clock ticks since boot, from /proc/PID/stat.
pub fn proc_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parens: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// The maker of a temp entry, from its name: `(pid, start)`.
fn maker(name: &str) -> Option<(i32, u64)> {
    let mut parts = name.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    parts.next()?;
    Some((pid, start))
}

/// Remove every entry of `dir` whose maker is gone. Entries not named by [`TempPath`] are
/// left alone. Returns how many were removed.
pub fn sweep(dir: &Path) -> usize {
    let Ok(rd) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((pid, start)) = maker(&name) else {
            continue;
        };
        if proc_start_time(pid) != Some(start) {
            remove_any(&e.path());
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_maker() {
        let t = TempPath::new(Path::new("/x"), "layer");
        let name = t.path.file_name().unwrap().to_string_lossy().into_owned();
        let (pid, start) = maker(&name).unwrap();
        assert_eq!(pid, std::process::id() as i32);
        assert_eq!(Some(start), proc_start_time(pid));
        assert!(name.contains("-layer-"));
    }

    #[test]
    fn sweep_removes_only_dead_makers() {
        let dir = tempfile::tempdir().unwrap();
        let live = TempPath::new(dir.path(), "blob");
        fs::write(&live.path, b"x").unwrap();
        // A maker that cannot be alive: pid 1's start time is never this.
        let dead = dir.path().join("1-999999999999-layer-0");
        fs::create_dir_all(dead.join("sub")).unwrap();
        let other = dir.path().join("not-ours");
        fs::write(&other, b"x").unwrap();
        assert_eq!(sweep(dir.path()), 1);
        assert!(live.path.exists());
        assert!(!dead.exists());
        assert!(other.exists());
        drop(live);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
