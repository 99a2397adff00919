//! The user's mounts, from flags to host sources: `-v`, `--mount`, `--tmpfs` and
//! `--volumes-from` checked before anything exists; then volumes created (and filled from
//! the image, Docker's copy-up) and missing `-v` bind dirs made; and the container's own
//! anonymous volumes removed with it.

use crate::runtime::rootfs::MountInfo;
use crate::runtime::safepath::InRoot;
use crate::spec::mounts::{self as parse, MountKind, MountRequest};
use crate::state::{Containers, MountPoint};
use crate::storage::copy;
use crate::storage::volumes::Volumes;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Mount;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The mount flags of `nsbox run`, as given.
pub struct MountFlags<'a> {
    pub volume: &'a [String],
    pub mount: &'a [String],
    pub tmpfs: &'a [String],
    pub volumes_from: &'a [String],
}

/// Parse and check every mount flag; creates nothing. Explicit mounts win over the ones
/// `--volumes-from` brings on the same destination (as in Docker).
pub fn requests(containers: &Containers, f: &MountFlags<'_>) -> Result<Vec<MountRequest>> {
    let cwd = std::env::current_dir().context("current directory")?;
    let mut reqs = Vec::new();
    for v in f.volume {
        reqs.push(parse::parse_volume_flag(v, &cwd)?);
    }
    for m in f.mount {
        let r = parse::parse_mount_flag(m, &cwd)?;
        if let MountKind::Bind { source, .. } = &r.kind {
            if fs::symlink_metadata(source).is_err() {
                bail!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    source.display()
                );
            }
        }
        reqs.push(r);
    }
    for t in f.tmpfs {
        reqs.push(parse::parse_tmpfs_flag(t)?);
    }
    parse::check_duplicates(&reqs)?;
    for from in f.volumes_from {
        for r in volumes_from(containers, from)? {
            if !reqs.iter().any(|o| o.target == r.target) {
                reqs.push(r);
            }
        }
    }
    for r in &reqs {
        check_propagation(r)?;
    }
    Ok(reqs)
}

/// `--volumes-from CTR[:ro|rw]`: the container's volumes and binds at the same paths, with
/// their own mode unless one is given. Tmpfs mounts are the container's own and not shared.
fn volumes_from(containers: &Containers, spec: &str) -> Result<Vec<MountRequest>> {
    let (key, mode) = match spec.rsplit_once(':') {
        Some((k, m)) if m == "ro" || m == "rw" => (k, Some(m == "ro")),
        Some((_, m)) => bail!("invalid mode for --volumes-from {spec}: {m}"),
        None => (spec, None),
    };
    let st = containers.resolve(key)?;
    Ok(st
        .mounts
        .iter()
        .filter_map(|mp| {
            let kind = match mp.typ.as_str() {
                "volume" => MountKind::Volume {
                    name: Some(mp.name.clone()),
                    nocopy: true,
                },
                "bind" => MountKind::Bind {
                    source: PathBuf::from(&mp.source),
                    create: false,
                },
                _ => return None,
            };
            Some(MountRequest {
                kind,
                target: mp.destination.clone(),
                read_only: mode.unwrap_or(!mp.rw),
                propagation: (!mp.propagation.is_empty()).then(|| mp.propagation.clone()),
                mode: mp.mode.clone(),
            })
        })
        .collect())
}

/// Docker's rule: a shared bind needs a shared source mount, a slave bind a shared or slave
/// one; otherwise the propagation the user asked for could not happen.
fn check_propagation(r: &MountRequest) -> Result<()> {
    let (MountKind::Bind { source, .. }, Some(prop)) = (&r.kind, r.propagation.as_deref()) else {
        return Ok(());
    };
    let want_shared = prop.ends_with("shared");
    if !want_shared && !prop.ends_with("slave") {
        return Ok(());
    }
    // A missing -v source is created later under its parent: check the nearest existing one.
    let mut existing = source.as_path();
    while !existing.exists() {
        existing = existing.parent().unwrap_or(Path::new("/"));
    }
    let real = fs::canonicalize(existing).with_context(|| format!("{}", existing.display()))?;
    let info = fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;
    let Some((mount_point, optional)) = containing_mount(&info, &real) else {
        return Ok(());
    };
    let shared = optional.contains("shared:");
    let slave = optional.contains("master:");
    if !shared && (want_shared || !slave) {
        bail!(
            "path {} is mounted on {} but it is not a {} mount",
            source.display(),
            mount_point,
            if want_shared {
                "shared"
            } else {
                "shared or slave"
            }
        );
    }
    Ok(())
}

/// The mount point containing `path` and its optional fields (mountinfo's "shared:N" ...).
fn containing_mount<'a>(info: &'a str, path: &Path) -> Option<(&'a str, &'a str)> {
    info.lines()
        .filter_map(|l| {
            let mi = MountInfo::parse(l)?;
            let (pre, _) = l.split_once(" - ")?;
            let optional = pre.splitn(7, ' ').nth(6).unwrap_or("");
            path.starts_with(mi.mount_point)
                .then_some((mi.mount_point, optional))
        })
        .max_by_key(|(mp, _)| mp.len())
}

/// Everything the runtime and the container state need about the user's mounts.
pub struct Prepared {
    pub oci: Vec<Mount>,
    pub points: Vec<MountPoint>,
    /// Volumes this call created, removed again if the run fails before the container exists.
    pub created: Vec<String>,
}

/// Make the host side of every request: volumes (copy-up from the image at `merged` when a
/// volume is empty, unless nocopy) and missing `-v` bind dirs. On failure, the volumes
/// made so far are removed again.
pub fn prepare(volumes: &Volumes, reqs: &[MountRequest], merged: &Path) -> Result<Prepared> {
    let mut p = Prepared {
        oci: Vec::new(),
        points: Vec::new(),
        created: Vec::new(),
    };
    for r in reqs {
        if let Err(e) = prepare_one(volumes, r, merged, &mut p) {
            remove_volumes(volumes, &p.created);
            return Err(e);
        }
    }
    Ok(p)
}

fn prepare_one(volumes: &Volumes, r: &MountRequest, merged: &Path, p: &mut Prepared) -> Result<()> {
    let point = |typ: &str, name: &str, source: &Path| MountPoint {
        typ: typ.to_string(),
        name: name.to_string(),
        source: source.display().to_string(),
        destination: r.target.clone(),
        driver: if typ == "volume" {
            "local".into()
        } else {
            String::new()
        },
        mode: r.mode.clone(),
        rw: !r.read_only,
        propagation: r.propagation.clone().unwrap_or_default(),
        anonymous: false,
    };
    let (source, mp) = match &r.kind {
        MountKind::Bind { source, create } => {
            if *create && fs::symlink_metadata(source).is_err() {
                fs::create_dir_all(source)
                    .with_context(|| format!("create bind source {}", source.display()))?;
            }
            (source.clone(), point("bind", "", source))
        }
        MountKind::Volume { name, nocopy } => {
            let (vol, made) = volumes.create(name.as_deref(), BTreeMap::new())?;
            if made {
                p.created.push(vol.name.clone());
            }
            let data = volumes.data_dir(&vol.name);
            if !nocopy && copy::is_empty_dir(&data) {
                // The image's content at the mount point, found inside the image and held by
                // fd: a symlink in the image cannot make us copy a host directory.
                let root = InRoot::open(merged)?;
                let src = root
                    .try_resolve(Path::new(&r.target))
                    .with_context(|| format!("resolve {} in the image", r.target))?;
                if let Some(src) = src {
                    copy::copy_up_from(src, &data)?;
                }
            }
            let mut mp = point("volume", &vol.name, &data);
            mp.anonymous = name.is_none();
            (data, mp)
        }
        MountKind::Tmpfs { .. } => (PathBuf::new(), point("tmpfs", "", Path::new(""))),
    };
    p.oci.push(parse::to_oci(r, &source));
    p.points.push(mp);
    Ok(())
}

fn remove_volumes(volumes: &Volumes, names: &[String]) {
    for n in names {
        let _ = volumes.remove(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containing_mount_is_the_longest_prefix() {
        let info = "1 0 0:1 / / rw - ext4 /dev/vda rw\n\
                    2 1 0:2 / /tmp rw shared:5 - tmpfs tmpfs rw\n\
                    3 2 0:3 / /tmp/x rw master:7 - tmpfs tmpfs rw\n";
        assert_eq!(
            containing_mount(info, Path::new("/tmp/x/y")),
            Some(("/tmp/x", "master:7"))
        );
        assert_eq!(
            containing_mount(info, Path::new("/tmp/y")),
            Some(("/tmp", "shared:5"))
        );
        assert_eq!(containing_mount(info, Path::new("/var")), Some(("/", "")));
    }
}
