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
    /// Never written: what `list`/`resolve` make of a container dir without a readable
    /// state (its creator died before saving it).
    Dead,
}

/// What a container is now, from its state and the processes behind it (Docker's
/// `State.Status`): the recorded status alone can be stale when its monitor died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Created,
    Running,
    /// Between two runs of a restart policy, its monitor waiting out the back-off.
    Restarting,
    Exited,
    /// Nobody will ever finish it: its creator or monitor died, or its exit status is
    /// unknown. Removable with `rm -f`.
    Dead,
}

impl Phase {
    /// Docker's `State.Status` word.
    pub fn docker(self) -> &'static str {
        match self {
            Phase::Created => "created",
            Phase::Running => "running",
            Phase::Restarting => "restarting",
            Phase::Exited => "exited",
            Phase::Dead => "dead",
        }
    }
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
    /// The monitor that owns the container — from its creation until its teardown — (0
    /// when none), and its start time, to tell it from a reused pid.
    #[serde(default)]
    pub monitor_pid: i32,
    #[serde(default)]
    pub monitor_start: u64,
    /// Set by the monitor while it waits out a restart back-off.
    #[serde(default)]
    pub restarting: bool,
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
            monitor_start: 0,
            restarting: false,
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

    /// Whether pid 1 of this container is really still alive (not a reused pid, not a
    /// zombie nobody reaps).
    pub fn is_alive(&self) -> bool {
        self.status == Status::Running && process_alive(self.pid, self.pid_start)
    }

    /// Whether the container's monitor is still there to finish it.
    pub fn monitor_alive(&self) -> bool {
        process_alive(self.monitor_pid, self.monitor_start)
    }

    /// Docker's state of the container now.
    pub fn phase(&self) -> Phase {
        match self.status {
            _ if self.is_alive() => Phase::Running,
            Status::Created if self.monitor_pid > 0 && !self.monitor_alive() => Phase::Dead,
            Status::Created => Phase::Created,
            Status::Exited if self.restarting && self.monitor_alive() => Phase::Restarting,
            Status::Exited if self.exit_code.is_some() => Phase::Exited,
            // pid 1 gone and its exit never recorded.
            Status::Running | Status::Exited | Status::Dead => Phase::Dead,
        }
    }

    /// The exit status as far as it is known: None while it runs, or when it ended
    /// without its exit being recorded (never to be taken as a success).
    pub fn known_exit_code(&self) -> Option<i32> {
        match self.phase() {
            Phase::Exited | Phase::Restarting => self.exit_code,
            _ => None,
        }
    }
}

pub use crate::scratch::proc_start_time;

/// The exit status shown for a container whose exit was never recorded (containerd's
/// `UnknownExitStatus`).
pub const UNKNOWN_EXIT: i32 = 255;

/// Whether `pid` is the live process that started at `start` (0: any start time, for
/// states written before start times were recorded). A zombie is not alive.
pub fn process_alive(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 2..)) else {
        return false;
    };
    let mut fields = rest.split(' ');
    let state = fields.next().unwrap_or("");
    if matches!(state, "Z" | "X" | "x") {
        return false;
    }
    start == 0 || fields.nth(18).and_then(|f| f.parse().ok()) == Some(start)
}

/// Our own pid and start time: how a monitor marks a container as its own.
pub fn own_process() -> (i32, u64) {
    let pid = std::process::id() as i32;
    (pid, proc_start_time(pid).unwrap_or(0))
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The container store.
pub struct Containers {
    dir: PathBuf,
    names: PathBuf,
    tmp: PathBuf,
}

impl Containers {
    pub fn open(root: &DataRoot) -> Result<Self> {
        let c = Containers {
            dir: root.containers(),
            names: root.path().join("names"),
            tmp: root.tmp(),
        };
        for d in [&c.dir, &c.names, &c.tmp] {
            fs::create_dir_all(d).map_err(io("create", d))?;
        }
        Ok(c)
    }

    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Create the container's directory with its first state, in one step: built under
    /// `<root>/tmp` (swept if we die there) and renamed into place, so that every dir
    /// under `containers/` has a state that says who owns it.
    pub fn create(&self, st: &ContainerState) -> Result<()> {
        // Named as scratch::TempPath names its entries (maker's pid and start time), so
        // the sweeper removes it if we die here; the start time is read afresh because
        // the caller is usually a just-forked monitor.
        let (pid, start) = own_process();
        let tmp = self.tmp.join(format!("{pid}-{start}-container-{}", st.id));
        fs::create_dir(&tmp).map_err(io("create", &tmp))?;
        let dir = self.dir_of(&st.id);
        let made =
            write_state(&tmp, st).and_then(|()| fs::rename(&tmp, &dir).map_err(io("create", &dir)));
        if made.is_err() {
            crate::scratch::remove_any(&tmp);
        }
        made
    }

    /// Reserve `name` for `id`; fails if another container holds it. A name left behind
    /// by a container whose directory is gone (a removal that died half-way) is free.
    pub fn reserve_name(&self, name: &str, id: &str) -> Result<()> {
        if !valid_name(name) {
            return Err(StateError::BadName(name.to_string()));
        }
        let link = self.names.join(name);
        let mut reclaimed = false;
        loop {
            match std::os::unix::fs::symlink(id, &link) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let holder = fs::read_link(&link)
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let stale = !holder.is_empty()
                        && (!self.dir_of(&holder).exists() || self.name_is_stale(name, &holder));
                    if stale && !reclaimed {
                        reclaimed = true;
                        let _ = fs::remove_file(&link);
                        continue;
                    }
                    return Err(StateError::NameInUse(name.to_string(), holder));
                }
                Err(e) => return Err(io("reserve name", &link)(e)),
            }
        }
    }

    /// Reserve `name` for `id` and record it in its state, both under the container's lock,
    /// releasing the name it had: a sweeper that takes the lock never sees the two
    /// disagree unless the claimer died half-way.
    pub fn claim_name(&self, id: &str, name: &str) -> Result<ContainerState> {
        let _lock = self.lock(id)?;
        let mut st = self.load(id)?;
        self.reserve_name(name, id)?;
        let old = std::mem::replace(&mut st.name, name.to_string());
        if let Err(e) = self.write_unlocked(&st) {
            self.release_name_of(name, id);
            return Err(e);
        }
        if !old.is_empty() && old != name {
            self.release_name_of(&old, id);
        }
        Ok(st)
    }

    /// Whether the name link `name` → `holder` is left over from a claim that died
    /// half-way: the holder's state (read under its lock, taken without waiting) names
    /// itself otherwise. A holder whose lock is taken is mid-claim, not stale.
    fn name_is_stale(&self, name: &str, holder: &str) -> bool {
        let Ok(dir) = File::open(self.dir_of(holder)) else {
            return false;
        };
        match Flock::lock(dir, FlockArg::LockExclusiveNonblock) {
            Ok(_lock) => self.load(holder).is_ok_and(|st| st.name != name),
            Err(_) => false,
        }
    }

    /// Release every name a dead claimer left pointing at a container that does not
    /// carry it (`rename` or `run` killed between the name and the state).
    pub fn sweep_names(&self) {
        let Ok(rd) = fs::read_dir(&self.names) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(holder) = fs::read_link(e.path()) else {
                continue;
            };
            if self.name_is_stale(&name, &holder.to_string_lossy()) {
                self.release_name_of(&name, &holder.to_string_lossy());
            }
        }
    }

    /// Release `name` only if it is held by `id`.
    pub fn release_name_of(&self, name: &str, id: &str) {
        if fs::read_link(self.names.join(name)).is_ok_and(|p| p.as_os_str() == id) {
            self.release_name(name);
        }
    }

    /// The names held by `id` (one, unless a rename died half-way).
    fn names_of(&self, id: &str) -> Vec<String> {
        let Ok(rd) = fs::read_dir(&self.names) else {
            return Vec::new();
        };
        rd.flatten()
            .filter(|e| fs::read_link(e.path()).is_ok_and(|p| p.as_os_str() == id))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
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

    fn write_unlocked(&self, st: &ContainerState) -> Result<()> {
        write_state(&self.dir_of(&st.id), st)
    }

    /// Read-modify-write under the lock, so concurrent commands never lose an update.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut ContainerState)) -> Result<ContainerState> {
        let _lock = self.lock(id)?;
        let mut st = self.load(id)?;
        f(&mut st);
        self.write_unlocked(&st)?;
        Ok(st)
    }

    /// The state of `id`; a directory without a readable state (its creator died before
    /// writing one) reads as a Dead container, so that `ps -a` shows it and `rm -f`
    /// removes it.
    pub fn load_or_dead(&self, id: &str) -> Result<ContainerState> {
        match self.load(id) {
            Ok(st) => Ok(st),
            Err(StateError::NotFound(_)) | Err(StateError::Decode { .. })
                if self.dir_of(id).is_dir() =>
            {
                Ok(self.dead(id))
            }
            Err(e) => Err(e),
        }
    }

    /// What is known of a container whose state was never written.
    fn dead(&self, id: &str) -> ContainerState {
        let dir = self.dir_of(id);
        let created = fs::metadata(&dir)
            .and_then(|m| m.modified())
            .map(chrono::DateTime::<chrono::Utc>::from)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
            .unwrap_or_else(|_| now_rfc3339());
        let name = self.names_of(id).into_iter().next().unwrap_or_default();
        ContainerState {
            status: Status::Dead,
            created,
            log_path: dir.join("container.log"),
            ..ContainerState::new(
                id.to_string(),
                name,
                Vec::new(),
                dir.clone(),
                dir.join("merged"),
            )
        }
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

    /// Every container on disk (one without a readable state as Dead), newest first.
    pub fn list(&self) -> Result<Vec<ContainerState>> {
        self.sweep_names();
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(io("read", &self.dir))?;
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if let Ok(st) = self.load_or_dead(&id) {
                out.push(st);
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// A container by full id, name, or unique id prefix (Docker's lookup order).
    pub fn resolve(&self, key: &str) -> Result<ContainerState> {
        if key.len() == 64 {
            if let Ok(st) = self.load_or_dead(key) {
                return Ok(st);
            }
        }
        if let Ok(id) = fs::read_link(self.names.join(key)) {
            if let Ok(st) = self.load_or_dead(&id.to_string_lossy()) {
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
            (Some(id), None) => self.load_or_dead(&id),
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
        // Only names that still point at us (a rename that died half-way may hold two).
        self.release_name_of(&st.name, &st.id);
        for n in self.names_of(&st.id) {
            self.release_name(&n);
        }
        Ok(())
    }
}

/// Write `dir/state.json` atomically (temp + rename); a failed write leaves the previous
/// state and no temp file behind.
fn write_state(dir: &Path, st: &ContainerState) -> Result<()> {
    let tmp = dir.join("state.json.tmp");
    let path = dir.join("state.json");
    let bytes = serde_json::to_vec_pretty(st).map_err(|err| StateError::Decode {
        path: path.display().to_string(),
        err,
    })?;
    let written = crate::dataroot::create_private(&tmp)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(io("write", &tmp))
        .and_then(|()| fs::rename(&tmp, &path).map_err(io("rename", &path)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
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
        c.create(&sample(&id, "web")).unwrap();
        c.reserve_name("web", &id).unwrap();
        assert!(matches!(
            c.reserve_name("web", "x"),
            Err(StateError::NameInUse(..))
        ));
        assert!(matches!(
            c.reserve_name("-bad", "x"),
            Err(StateError::BadName(..))
        ));
        assert_eq!(c.resolve("web").unwrap().id, id);
        assert_eq!(c.resolve("abab").unwrap().id, id);
        assert!(matches!(c.resolve("cd"), Err(StateError::NotFound(_))));
        let st = c.update(&id, |s| s.exit_code = Some(3)).unwrap();
        assert_eq!(c.load(&id).unwrap().exit_code, st.exit_code);
        c.remove(&st).unwrap();
        assert!(c.resolve("web").is_err());
        c.reserve_name("web", "other").unwrap();
        // "other" has no dir: its name is stale and free for the taking.
        c.reserve_name("web", &id).unwrap();
    }

    #[test]
    fn a_dir_without_state_reads_as_dead_and_removable() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Containers::open(&DataRoot::new(tmp.path())).unwrap();
        let id = "cd".repeat(32);
        fs::create_dir_all(c.dir_of(&id).join("upper")).unwrap();
        c.reserve_name("half", &id).unwrap();
        let st = c.resolve("half").unwrap();
        assert_eq!((st.status, st.phase()), (Status::Dead, Phase::Dead));
        assert_eq!(st.name, "half");
        assert_eq!(c.list().unwrap().len(), 1);
        c.remove(&st).unwrap();
        assert!(!c.dir_of(&id).exists());
        c.reserve_name("half", "x").unwrap();
    }

    #[test]
    fn phases_follow_the_processes() {
        let (me, start) = own_process();
        let mut st = sample(&"ef".repeat(32), "p");
        assert_eq!(st.phase(), Phase::Created);
        st.monitor_pid = me;
        st.monitor_start = start;
        assert_eq!(st.phase(), Phase::Created, "being made by a live monitor");
        st.monitor_start = start + 1;
        assert_eq!(st.phase(), Phase::Dead, "its monitor is gone");
        st.status = Status::Running;
        st.pid = me;
        st.pid_start = start;
        assert_eq!(st.phase(), Phase::Running);
        st.pid_start = start + 1;
        assert_eq!(st.phase(), Phase::Dead, "pid 1 gone, no exit recorded");
        assert_eq!(st.known_exit_code(), None);
        st.status = Status::Exited;
        st.exit_code = Some(3);
        st.restarting = true;
        st.monitor_start = start;
        assert_eq!(st.phase(), Phase::Restarting);
        st.monitor_start = 0;
        st.monitor_pid = 0;
        assert_eq!((st.phase(), st.known_exit_code()), (Phase::Exited, Some(3)));
    }

    #[test]
    fn our_own_start_time_is_readable() {
        assert!(proc_start_time(std::process::id() as i32).is_some());
        assert_eq!(generated_name(&"00".repeat(32), 0), "brave_babbage");
        assert_eq!(generated_name(&"00".repeat(32), 3), "brave_babbage3");
    }
}
