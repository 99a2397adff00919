//! Which subordinate ids a container maps: `--userns=auto` takes a free range of
//! /etc/subuid and /etc/subgid (for "root"). The allocation is recorded nowhere but in the
//! container's own config.json (`linux.uidMappings`): a range is held while that file
//! exists and freed with the container's directory on `rm`. Allocating scans every
//! container's config.json under an flock on the containers directory, held until the
//! new config.json is written (drop the [`Allocation`] after saving it).

use crate::spec::userns::{self, IdMap, UsernsError, UsernsMode, AUTO_SIZE};
use nix::fcntl::{Flock, FlockArg};
use oci_spec::runtime::Spec;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// Environment variables naming other subuid/subgid files (tests use private copies).
pub const SUBUID_ENV: &str = "NSBOX_SUBUID_FILE";
pub const SUBGID_ENV: &str = "NSBOX_SUBGID_FILE";

#[derive(Debug, thiserror::Error)]
pub enum SubidError {
    #[error(transparent)]
    Userns(#[from] UsernsError),
    #[error("userns: {what} {path}: {err}")]
    Io {
        what: &'static str,
        path: String,
        err: std::io::Error,
    },
}

/// The mappings for a new container; holds the allocation lock while alive.
pub struct Allocation {
    pub uid: Vec<IdMap>,
    pub gid: Vec<IdMap>,
    _lock: Option<Flock<File>>,
}

fn file_of(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// The mappings `mode` asks for (None: no user namespace).
pub fn resolve(containers_dir: &Path, mode: &UsernsMode) -> Result<Option<Allocation>, SubidError> {
    match mode {
        UsernsMode::Host => Ok(None),
        UsernsMode::Maps { uid, gid } => Ok(Some(Allocation {
            uid: uid.clone(),
            gid: gid.clone(),
            _lock: None,
        })),
        UsernsMode::Auto => auto(containers_dir).map(Some),
    }
}

fn auto(containers_dir: &Path) -> Result<Allocation, SubidError> {
    let io = |what, path: &Path| {
        let path = path.display().to_string();
        move |err| SubidError::Io { what, path, err }
    };
    fs::create_dir_all(containers_dir).map_err(io("create", containers_dir))?;
    let dir = File::open(containers_dir).map_err(io("open", containers_dir))?;
    let lock = Flock::lock(dir, FlockArg::LockExclusive)
        .map_err(|(_, e)| io("lock", containers_dir)(e.into()))?;
    let (held_uids, held_gids) = held(containers_dir);
    let uid = pick(&file_of(SUBUID_ENV, "/etc/subuid"), &held_uids)?;
    let gid = pick(&file_of(SUBGID_ENV, "/etc/subgid"), &held_gids)?;
    Ok(Allocation {
        uid: vec![uid],
        gid: vec![gid],
        _lock: Some(lock),
    })
}

/// A free range of AUTO_SIZE ids for root in the subid file at `path`.
fn pick(path: &Path, held: &[(u32, u32)]) -> Result<IdMap, SubidError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => {
            return Err(SubidError::Io {
                what: "read",
                path: path.display().to_string(),
                err,
            })
        }
    };
    let ranges = userns::subid_ranges(&text, "root", 0);
    if !ranges.iter().any(|(_, n)| *n >= AUTO_SIZE) {
        return Err(UsernsError::NoSubids {
            user: "root".to_string(),
            path: path.display().to_string(),
            size: AUTO_SIZE,
        }
        .into());
    }
    let start =
        userns::allocate(&ranges, held, AUTO_SIZE).ok_or_else(|| UsernsError::Exhausted {
            size: AUTO_SIZE,
            path: path.display().to_string(),
        })?;
    Ok(IdMap {
        container: 0,
        host: start,
        size: AUTO_SIZE,
    })
}

/// The host uid and gid ranges every existing container's config.json maps.
fn held(containers_dir: &Path) -> (userns::Ranges, userns::Ranges) {
    let (mut uids, mut gids) = (Vec::new(), Vec::new());
    for entry in fs::read_dir(containers_dir).into_iter().flatten().flatten() {
        let Ok(spec) = Spec::load(entry.path().join("config.json")) else {
            continue;
        };
        let (u, g) = userns::held_ranges(&spec);
        uids.extend(u);
        gids.extend(g);
    }
    (uids, gids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_skips_ranges_held_by_saved_configs() {
        let dir = tempfile::tempdir().unwrap();
        let subuid = dir.path().join("subuid");
        fs::write(&subuid, "root:300000:131072\n").unwrap();
        let c = dir.path().join("containers");
        fs::create_dir_all(c.join("a")).unwrap();
        let mut spec = Spec::default();
        let m = [IdMap {
            container: 0,
            host: 300000,
            size: AUTO_SIZE,
        }];
        userns::apply(&mut spec, &m, &m).unwrap();
        spec.save(c.join("a/config.json")).unwrap();
        let (u, _) = held(&c);
        assert_eq!(pick(&subuid, &u).unwrap().host, 300000 + AUTO_SIZE);
        let missing = pick(&dir.path().join("nope"), &[]).unwrap_err();
        assert!(
            missing.to_string().contains("root:100000:65536"),
            "{missing}"
        );
    }
}
