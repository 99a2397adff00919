//! Container state on disk: `<root>/containers/<id>/state.json`, written to a temp file
//! and renamed into place under an exclusive flock, so a reader never sees a torn file
//! and a crashed writer leaves the previous version. Names are reserved atomically as
//! symlinks `<root>/names/<name>` → id.

use crate::dataroot::DataRoot;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("No such container: {0}")]
    NotFound(String),
    #[error("Error response: multiple containers match {0}; use more characters")]
    Ambiguous(String),
    #[error("Conflict. The container name \"/{0}\" is already in use by container \"{1}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse(String, String),
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    BadName(String),
    #[error("{what} {path}: {err}")]
    Io {
        what: &'static str,
        path: String,
        err: std::io::Error,
    },
    #[error("state {path}: {err}")]
    Decode {
        path: String,
        err: serde_json::Error,
    },
}

type Result<T> = std::result::Result<T, StateError>;

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StateError + 'a {
    move |err| StateError::Io {
        what,
        path: path.display().to_string(),
        err,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Exited,
}

/// Everything nsbox knows about one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub name: String,
    /// The image reference as given ("busybox"), empty for a bundle.
    pub image: String,
    pub image_id: String,
    /// The process args (entrypoint + cmd).
    pub command: Vec<String>,
    pub created: String,
    pub status: Status,
    /// Host pid of the container's pid 1 while running.
    pub pid: i32,
    /// Its start time (field 22 of /proc/PID/stat), to tell it from a reused pid.
    pub pid_start: u64,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    pub oom_killed: bool,
    pub auto_remove: bool,
    /// Directory holding config.json.
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Layer dirs (bottom first) when the rootfs is an overlay of an image.
    pub lower_dirs: Vec<PathBuf>,
    /// Where the container's cgroup is, so any later command can find it.
    #[serde(default)]
    pub cgroup: Option<crate::runtime::cgroups::CgroupRef>,
    /// The limits asked for (Docker's HostConfig resource fields).
    #[serde(default)]
    pub host_config: crate::spec::resources::ResourceOptions,
    /// Binds, volumes and tmpfs mounts the user asked for, as `docker inspect` shows them.
    #[serde(default)]
    pub mounts: Vec<MountPoint>,
    /// How the container's process is attached: a pty (`-t`), stdin kept open (`-i`).
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub interactive: bool,
    /// The monitor supervising the container while it runs (0 when none).
    #[serde(default)]
    pub monitor_pid: i32,
    #[serde(default)]
    pub restart: crate::monitor::RestartPolicy,
    #[serde(default)]
    pub restart_count: u32,
    /// Set by `stop`/`kill`: the restart policy does not apply to this exit.
    #[serde(default)]
    pub manually_stopped: bool,
    #[serde(default)]
    pub log: crate::monitor::log::LogOptions,
    /// The json-file log of the container's output (in the container's dir).
    #[serde(default)]
    pub log_path: PathBuf,
}

/// One user mount of a container: Docker's `Mounts[]` entry, plus whether this container
/// created the (anonymous) volume and so removes it with `--rm` / `rm -v`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    /// "bind", "volume" or "tmpfs".
    #[serde(rename = "Type")]
    pub typ: String,
    /// The volume's name (volumes only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Host path: the bind source or the volume's `_data` dir; empty for tmpfs.
    pub source: String,
    pub destination: String,
    /// "local" for volumes, empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// The mode string as given ("ro", "rw,nocopy", "" ...).
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    /// Bind propagation ("rprivate" by default); empty for volumes and tmpfs.
    pub propagation: String,
    /// This container made the anonymous volume (internal; not in `docker inspect`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
}

impl ContainerState {
    /// A container just created: not started, no limits, no cgroup yet.
    pub fn new(
        id: String,
        name: String,
        command: Vec<String>,
        bundle: PathBuf,
        rootfs: PathBuf,
    ) -> Self {
        ContainerState {
            id,
            name,
            image: String::new(),
            image_id: String::new(),
            command,
            created: now_rfc3339(),
            status: Status::Created,
            pid: 0,
            pid_start: 0,
            started_at: None,
            finished_at: None,
            exit_code: None,
            oom_killed: false,
            auto_remove: false,
            bundle,
            rootfs,
            lower_dirs: Vec::new(),
            cgroup: None,
            host_config: Default::default(),
            mounts: Vec::new(),
            tty: false,
            interactive: false,
            monitor_pid: 0,
            restart: Default::default(),
            restart_count: 0,
            manually_stopped: false,
            log: Default::default(),
            log_path: PathBuf::new(),
        }
    }

    /// The container's own directory (state, log, attach socket): the log's.
    pub fn state_dir(&self) -> PathBuf {
        self.log_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.bundle.clone())
    }

    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }

    /// Whether pid 1 of this container is really still alive (not a reused pid).
    pub fn is_alive(&self) -> bool {
        self.status == Status::Running
            && self.pid > 0
            && proc_start_time(self.pid) == Some(self.pid_start)
    }
}

pub use crate::scratch::proc_start_time;

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The container store.
pub struct Containers {
    dir: PathBuf,
    names: PathBuf,
}

impl Containers {
    pub fn open(root: &DataRoot) -> Result<Self> {
        let c = Containers {
            dir: root.containers(),
            names: root.path().join("names"),
        };
        for d in [&c.dir, &c.names] {
            fs::create_dir_all(d).map_err(io("create", d))?;
        }
        Ok(c)
    }

    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Reserve `name` for `id`; fails if another container holds it.
    pub fn reserve_name(&self, name: &str, id: &str) -> Result<()> {
        if !valid_name(name) {
            return Err(StateError::BadName(name.to_string()));
        }
        let link = self.names.join(name);
        match std::os::unix::fs::symlink(id, &link) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let holder = fs::read_link(&link)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Err(StateError::NameInUse(name.to_string(), holder))
            }
            Err(e) => Err(io("reserve name", &link)(e)),
        }
    }

    pub fn release_name(&self, name: &str) {
        let _ = fs::remove_file(self.names.join(name));
    }

    /// The container's lock: an flock on its directory itself, so that taking it never
    /// creates a file (a lock file re-created during `rm` would keep the dir from going).
    fn lock(&self, id: &str) -> Result<Flock<File>> {
        let path = self.dir_of(id);
        let f = File::open(&path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => StateError::NotFound(id.to_string()),
            _ => io("open", &path)(e),
        })?;
        Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| io("lock", &path)(e.into()))
    }

    /// Write the state atomically (temp + rename) under the container's lock.
    pub fn save(&self, st: &ContainerState) -> Result<()> {
        let _lock = self.lock(&st.id)?;
        self.write_unlocked(st)
    }

    fn write_unlocked(&self, st: &ContainerState) -> Result<()> {
        let dir = self.dir_of(&st.id);
        let tmp = dir.join("state.json.tmp");
        let path = dir.join("state.json");
        let bytes = serde_json::to_vec_pretty(st).map_err(|err| StateError::Decode {
            path: path.display().to_string(),
            err,
        })?;
        let mut f = crate::dataroot::create_private(&tmp).map_err(io("write", &tmp))?;
        f.write_all(&bytes).map_err(io("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("rename", &path))
    }

    /// Read-modify-write under the lock, so concurrent commands never lose an update.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut ContainerState)) -> Result<ContainerState> {
        let _lock = self.lock(id)?;
        let mut st = self.load(id)?;
        f(&mut st);
        self.write_unlocked(&st)?;
        Ok(st)
    }

    pub fn load(&self, id: &str) -> Result<ContainerState> {
        let path = self.dir_of(id).join("state.json");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(StateError::NotFound(id.to_string()))
            }
            Err(e) => return Err(io("read", &path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|err| StateError::Decode {
            path: path.display().to_string(),
            err,
        })
    }

    /// Every container with a readable state, newest first.
    pub fn list(&self) -> Result<Vec<ContainerState>> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(io("read", &self.dir))?;
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if let Ok(st) = self.load(&id) {
                out.push(st);
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// A container by full id, name, or unique id prefix (Docker's lookup order).
    pub fn resolve(&self, key: &str) -> Result<ContainerState> {
        if key.len() == 64 {
            if let Ok(st) = self.load(key) {
                return Ok(st);
            }
        }
        if let Ok(id) = fs::read_link(self.names.join(key)) {
            if let Ok(st) = self.load(&id.to_string_lossy()) {
                return Ok(st);
            }
        }
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(StateError::NotFound(key.to_string()));
        }
        let mut hits = fs::read_dir(&self.dir)
            .map_err(io("read", &self.dir))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|id| id.starts_with(key));
        match (hits.next(), hits.next()) {
            (Some(id), None) => self.load(&id),
            (Some(_), Some(_)) => Err(StateError::Ambiguous(key.to_string())),
            _ => Err(StateError::NotFound(key.to_string())),
        }
    }

    /// Remove the container's directory and its name, under the container's lock so that a
    /// monitor recording the exit at the same moment either finishes first or finds it gone.
    pub fn remove(&self, st: &ContainerState) -> Result<()> {
        let dir = self.dir_of(&st.id);
        let _lock = match self.lock(&st.id) {
            Ok(l) => Some(l),
            Err(_) if !dir.exists() => None,
            Err(e) => return Err(e),
        };
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove", &dir)(e)),
        }
        // Only release the name if it still points at us.
        if fs::read_link(self.names.join(&st.name))
            .map(|p| p.as_os_str() == st.id.as_str())
            .unwrap_or(false)
        {
            self.release_name(&st.name);
        }
        Ok(())
    }
}

/// Docker's rule for container names.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A fresh 64-hex container id.
pub fn new_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(&mut File::open("/dev/urandom")?, &mut bytes)?;
    Ok(hex::encode(bytes))
}

/// A Docker-style "adjective_scientist" name derived from the id; `attempt` > 0 (after a
/// collision) adds a number, as Docker's name generator does on retry.
pub fn generated_name(id: &str, attempt: u32) -> String {
    const ADJ: [&str; 16] = [
        "brave", "calm", "clever", "eager", "fervent", "gentle", "happy", "keen", "lucid",
        "modest", "nifty", "quirky", "serene", "tender", "vibrant", "zealous",
    ];
    const WHO: [&str; 16] = [
        "babbage", "curie", "dijkstra", "euler", "hopper", "kepler", "lamport", "lovelace",
        "noether", "pike", "ritchie", "shannon", "thompson", "torvalds", "turing", "wozniak",
    ];
    let b = hex::decode(&id[..4.min(id.len())]).unwrap_or_default();
    let (a, w) = (
        b.first().copied().unwrap_or(0),
        b.get(1).copied().unwrap_or(0),
    );
    let base = format!("{}_{}", ADJ[(a & 15) as usize], WHO[(w & 15) as usize]);
    match attempt {
        0 => base,
        n => format!("{base}{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str, name: &str) -> ContainerState {
        ContainerState::new(
            id.into(),
            name.into(),
            vec!["sh".into()],
            PathBuf::new(),
            PathBuf::new(),
        )
    }

    #[test]
    fn save_load_resolve_and_names() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Containers::open(&DataRoot::new(tmp.path())).unwrap();
        let id = "ab".repeat(32);
        fs::create_dir_all(c.dir_of(&id)).unwrap();
        c.reserve_name("web", &id).unwrap();
        assert!(matches!(
            c.reserve_name("web", "x"),
            Err(StateError::NameInUse(..))
        ));
        assert!(matches!(
            c.reserve_name("-bad", "x"),
            Err(StateError::BadName(..))
        ));
        c.save(&sample(&id, "web")).unwrap();
        assert_eq!(c.resolve("web").unwrap().id, id);
        assert_eq!(c.resolve("abab").unwrap().id, id);
        assert!(matches!(c.resolve("cd"), Err(StateError::NotFound(_))));
        let st = c.update(&id, |s| s.exit_code = Some(3)).unwrap();
        assert_eq!(c.load(&id).unwrap().exit_code, st.exit_code);
        c.remove(&st).unwrap();
        assert!(c.resolve("web").is_err());
        c.reserve_name("web", "other").unwrap();
    }

    #[test]
    fn our_own_start_time_is_readable() {
        assert!(proc_start_time(std::process::id() as i32).is_some());
        assert_eq!(generated_name(&"00".repeat(32), 0), "brave_babbage");
        assert_eq!(generated_name(&"00".repeat(32), 3), "brave_babbage3");
    }
}
