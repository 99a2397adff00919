//! Named and anonymous volumes: `<root>/volumes/<name>/_data` holds the data and
//! `<root>/volumes/<name>/volume.json` the metadata. A volume is built in `<root>/tmp` and
//! renamed into place, and removed by renaming it away first, so a half-made or
//! half-removed volume is never visible.

use crate::dataroot::DataRoot;
use crate::scratch::TempPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error("create {0}: \"{0}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")]
    BadName(String),
    #[error("volume {what} {path}: {err}")]
    Io {
        what: &'static str,
        path: String,
        err: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("volume metadata {path}: {err}")]
    Decode {
        path: String,
        err: serde_json::Error,
    },
}

type Result<T> = std::result::Result<T, VolumeError>;

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> VolumeError + 'a {
    move |err| VolumeError::Io {
        what,
        path: path.display().to_string(),
        err,
    }
}

/// A volume's metadata (what `docker volume inspect` shows, less the derived Mountpoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Made by `-v /path` / `--mount type=volume` without a source: a 64-hex name.
    #[serde(default)]
    pub anonymous: bool,
}

const META: &str = "volume.json";

/// The volume store under `<root>/volumes`.
pub struct Volumes {
    dir: PathBuf,
    tmp: PathBuf,
}

impl Volumes {
    pub fn open(root: &DataRoot) -> Result<Self> {
        let v = Volumes {
            dir: root.volumes(),
            tmp: root.tmp(),
        };
        for d in [&v.dir, &v.tmp] {
            fs::create_dir_all(d).map_err(io("create", d))?;
        }
        crate::scratch::sweep(&v.tmp);
        Ok(v)
    }

    /// `<root>/volumes/<name>/_data`: what is mounted into containers.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    pub fn get(&self, name: &str) -> Result<Volume> {
        if !valid_name(name) {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        let path = self.dir.join(name).join(META);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(VolumeError::NotFound(name.to_string()))
            }
            Err(e) => return Err(io("read", &path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|err| VolumeError::Decode {
            path: path.display().to_string(),
            err,
        })
    }

    /// Create a volume; `None` makes an anonymous one with a fresh 64-hex name. Creating
    /// a named volume that exists returns the existing one (as `docker volume create` does).
    /// The bool says whether this call created it.
    pub fn create(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
    ) -> Result<(Volume, bool)> {
        let (name, anonymous) = match name {
            Some(n) => (n.to_string(), false),
            None => (
                crate::state::new_id().map_err(io("random name", Path::new("/dev/urandom")))?,
                true,
            ),
        };
        if !valid_name(&name) {
            return Err(VolumeError::BadName(name));
        }
        if let Ok(v) = self.get(&name) {
            return Ok((v, false));
        }
        let vol = Volume {
            name: name.clone(),
            created_at: crate::state::now_rfc3339(),
            labels,
            anonymous,
        };
        let mut scratch = TempPath::new(&self.tmp, "volume");
        let tmp = scratch.path.clone();
        let data = tmp.join("_data");
        fs::create_dir_all(&data).map_err(io("create", &data))?;
        // Docker's _data is 0755 root:root until content is copied in (which sets its mode).
        let meta = serde_json::to_vec_pretty(&vol).map_err(|err| VolumeError::Decode {
            path: tmp.display().to_string(),
            err,
        })?;
        let written = fs::write(tmp.join(META), meta).map_err(io("write", &tmp));
        let dest = self.dir.join(&name);
        let renamed = written.and_then(|()| fs::rename(&tmp, &dest).map_err(io("create", &dest)));
        match renamed {
            Ok(()) => {
                scratch.keep();
                Ok((vol, true))
            }
            Err(e) => {
                drop(scratch);
                // Lost a race with another creator: theirs is as good as ours.
                match self.get(&name) {
                    Ok(v) => Ok((v, false)),
                    Err(_) => Err(e),
                }
            }
        }
    }

    /// Every volume with readable metadata, by name.
    pub fn list(&self) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir)
            .map_err(io("read", &self.dir))?
            .flatten()
        {
            if let Ok(v) = self.get(&e.file_name().to_string_lossy()) {
                out.push(v);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Remove a volume and its data (the caller checks that no container uses it).
    pub fn remove(&self, name: &str) -> Result<()> {
        self.get(name)?;
        let dir = self.dir.join(name);
        // Renamed away first: a killed remover leaves a scratch entry the sweeper removes,
        // never a half-deleted volume.
        let gone = TempPath::new(&self.tmp, "rm-volume");
        fs::rename(&dir, &gone.path).map_err(io("remove", &dir))?;
        fs::remove_dir_all(&gone.path).map_err(io("remove", &gone.path))
    }
}

/// Remove the anonymous volumes `st` created (`run --rm`, `rm -v`), except any that another
/// container still mounts (through `--volumes-from`). Named volumes are never removed here.
pub fn remove_anonymous(root: &DataRoot, st: &crate::state::ContainerState) -> Result<()> {
    let owned: Vec<&str> = st
        .mounts
        .iter()
        .filter(|m| m.anonymous && m.typ == "volume")
        .map(|m| m.name.as_str())
        .collect();
    if owned.is_empty() {
        return Ok(());
    }
    let others = crate::state::Containers::open(root)?.list()?;
    let volumes = Volumes::open(root)?;
    for name in owned {
        let used = others
            .iter()
            .any(|c| c.id != st.id && c.mounts.iter().any(|m| m.typ == "volume" && m.name == name));
        if !used {
            volumes.remove(name)?;
        }
    }
    Ok(())
}

/// Docker's rule for local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (two characters at least).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        for ok in ["data", "a1", "my_vol.2-x", &"f".repeat(64)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a", "-x", ".x", "a/b", "a b", "a:b", "..", "é1"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn create_get_list_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let v = Volumes::open(&DataRoot::new(tmp.path())).unwrap();
        let mut labels = BTreeMap::new();
        labels.insert("k".to_string(), "v".to_string());
        let (data, made) = v.create(Some("data"), labels.clone()).unwrap();
        assert!(made && !data.anonymous);
        assert!(v.data_dir("data").is_dir());
        let (again, made) = v.create(Some("data"), BTreeMap::new()).unwrap();
        assert!(!made);
        assert_eq!(again.labels, labels);
        let (anon, made) = v.create(None, BTreeMap::new()).unwrap();
        assert!(made && anon.anonymous && anon.name.len() == 64);
        let names: Vec<_> = v.list().unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(names.len(), 2);
        assert!(matches!(
            v.create(Some("b/d"), BTreeMap::new()),
            Err(VolumeError::BadName(_))
        ));
        v.remove("data").unwrap();
        assert!(matches!(v.get("data"), Err(VolumeError::NotFound(_))));
        assert!(!tmp.path().join("volumes/data").exists());
        assert!(fs::read_dir(tmp.path().join("tmp"))
            .unwrap()
            .next()
            .is_none());
    }
}
