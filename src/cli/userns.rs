//! `run`'s user-namespace flags (podman's): `--userns=host|auto`, `--uidmap`, `--gidmap`,
//! and what `run` does with them: allocate the ids, add the namespace to the spec.

use super::{ExitError, EXIT_NSBOX};
use crate::dataroot::DataRoot;
use crate::image::tarball::IdUnmap;
use crate::runtime::userns::{self as runtime_userns, UsernsPlan};
use crate::spec::userns::{self, IdMap, UsernsMode};
use crate::storage::overlay::{self, OverlayPaths};
use crate::storage::subids::{self, Allocation};
use crate::storage::volumes::Volumes;
use anyhow::{Context, Result};
use clap::Args;
use oci_spec::runtime::LinuxIdMapping;
use oci_spec::runtime::Spec;
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

#[derive(Debug, Args, Default)]
pub struct UsernsArgs {
    /// User namespace: host (none, the default) or auto (a free range of /etc/subuid).
    #[arg(long = "userns", value_name = "host|auto")]
    pub userns: Option<String>,
    /// Map container uids to host uids: CONTAINER:HOST:SIZE (repeatable).
    #[arg(long = "uidmap", value_name = "CONTAINER:HOST:SIZE")]
    pub uidmap: Vec<String>,
    /// Map container gids to host gids: CONTAINER:HOST:SIZE (repeatable).
    #[arg(long = "gidmap", value_name = "CONTAINER:HOST:SIZE")]
    pub gidmap: Vec<String>,
}

impl UsernsArgs {
    /// The mode, checked before anything exists (a bad map fails with 125 here).
    pub fn mode(&self) -> Result<UsernsMode> {
        userns::parse_mode(self.userns.as_deref(), &self.uidmap, &self.gidmap)
            .map_err(|e| ExitError::new(EXIT_NSBOX, e.to_string()).into())
    }

    /// A bundle's config.json decides its user namespace: the flags would be dropped.
    pub fn refuse_with_bundle(&self) -> Result<()> {
        if self.userns.is_some() || !self.uidmap.is_empty() || !self.gidmap.is_empty() {
            return Err(ExitError::new(
                EXIT_NSBOX,
                "--userns, --uidmap and --gidmap do not apply to --bundle: set \
                 linux.uidMappings/gidMappings and a user namespace in its config.json",
            )
            .into());
        }
        Ok(())
    }
}

/// In `create`, before the rootfs exists: the ids the container maps (None: no user
/// namespace). Keep the allocation alive until config.json is saved: its lock keeps a
/// concurrent `--userns=auto` from taking the same range.
pub fn allocate(root: &DataRoot, mode: &UsernsMode) -> Result<Option<Allocation>> {
    Ok(subids::resolve(&root.containers(), mode)?)
}

/// The runtime's view of a set of mappings.
pub fn plan_of(uid: &[IdMap], gid: &[IdMap]) -> Result<UsernsPlan> {
    Ok(UsernsPlan {
        uid: userns::to_oci(uid).context("id mapping")?,
        gid: userns::to_oci(gid).context("id mapping")?,
    })
}

/// Mount the container's overlay; with a user namespace, its image layers are seen
/// through an idmapped copy of the layer store (root-owned files belong to the
/// container's root) and its upper dir belongs to the container's root on the host, so
/// what the container writes is owned by its mapped ids there.
pub fn mount_rootfs(
    root: &DataRoot,
    paths: &OverlayPaths,
    plan: Option<&UsernsPlan>,
) -> Result<()> {
    let Some(plan) = plan else {
        return Ok(overlay::mount_overlay(&root.overlay(), paths)?);
    };
    let host_root = |maps: &[LinuxIdMapping]| {
        maps.iter()
            .find(|m| m.container_id() == 0)
            .map(|m| m.host_id())
    };
    let (Some(uid), Some(gid)) = (host_root(&plan.uid), host_root(&plan.gid)) else {
        return Err(
            ExitError::new(EXIT_NSBOX, "user namespace: uid 0 and gid 0 must be mapped").into(),
        );
    };
    fs::create_dir_all(&paths.upper).with_context(|| format!("mkdir {}", paths.upper.display()))?;
    std::os::unix::fs::chown(&paths.upper, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", paths.upper.display()))?;
    // The container's root reaches its rootfs and /etc files through the data root: let
    // it traverse (not read) the directories on the way, as Docker's userns-remap does
    // with its per-mapping root.
    for dir in [root.path(), &root.containers()] {
        allow_traverse(dir)?;
    }
    let ns = runtime_userns::namespace_with_maps(plan)?;
    let layers = runtime_userns::idmapped_tree(&root.overlay(), ns.as_fd())?;
    overlay::mount_overlay_on(&root.overlay(), paths, Some(layers.as_fd()))?;
    Ok(())
}

/// The host ids of the container's root.
fn host_root(plan: &UsernsPlan) -> Result<(u32, u32)> {
    let find = |maps: &[LinuxIdMapping]| {
        maps.iter()
            .find(|m| m.container_id() == 0)
            .map(|m| m.host_id())
    };
    match (find(&plan.uid), find(&plan.gid)) {
        (Some(uid), Some(gid)) => Ok((uid, gid)),
        _ => {
            Err(ExitError::new(EXIT_NSBOX, "user namespace: uid 0 and gid 0 must be mapped").into())
        }
    }
}

/// Volumes this run created that were not filled from the image (those copied from the
/// idmapped rootfs already carry the mapped owners) belong to the container's root, as
/// podman does with new volumes of a user-namespaced container (Docker's userns-remap
/// gets the same by keeping volumes under the remapped root).
pub fn own_new_volumes(
    volumes: &Volumes,
    created: &[String],
    plan: Option<&UsernsPlan>,
) -> Result<()> {
    let Some(plan) = plan else {
        return Ok(());
    };
    let (uid, gid) = host_root(plan)?;
    for name in created {
        let data = volumes.data_dir(name);
        let md = fs::metadata(&data).with_context(|| format!("stat {}", data.display()))?;
        if md.uid() == 0 && md.gid() == 0 {
            std::os::unix::fs::chown(&data, Some(uid), Some(gid))
                .with_context(|| format!("chown {}", data.display()))?;
        }
    }
    Ok(())
}

/// The mappings a saved spec holds, for mounting its rootfs again on `start`.
pub fn plan_of_spec(spec: &Spec) -> Result<Option<UsernsPlan>> {
    Ok(runtime_userns::plan(spec)?)
}

/// Put the user namespace and its mappings into the spec.
pub fn apply(spec: &mut Spec, alloc: Option<&Allocation>) -> Result<()> {
    if let Some(a) = alloc {
        userns::apply(spec, &a.uid, &a.gid).context("user namespace")?;
    }
    Ok(())
}

fn allow_traverse(dir: &Path) -> Result<()> {
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("stat {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o001 == 0 {
        std::fs::set_permissions(
            dir,
            std::fs::Permissions::from_mode((mode & 0o7777) | 0o001),
        )
        .with_context(|| format!("chmod o+x {}", dir.display()))?;
    }
    Ok(())
}

/// For `commit` and `export` of a container made from an image with a user namespace:
/// its mappings, to write its upper dir's owners back as the container saw them. None for
/// bundles (their rootfs is written through an idmapped mount: on disk as seen inside).
pub fn unmap_of(st: &crate::state::ContainerState) -> Option<IdUnmap> {
    if st.image_id.is_empty() {
        return None;
    }
    let spec = Spec::load(st.bundle.join("config.json")).ok()?;
    let linux = spec.linux().as_ref()?;
    let conv = |m: &Option<Vec<LinuxIdMapping>>| -> Vec<(u32, u32, u32)> {
        m.iter()
            .flatten()
            .map(|m| (m.container_id(), m.host_id(), m.size()))
            .collect()
    };
    let unmap = IdUnmap {
        uid: conv(linux.uid_mappings()),
        gid: conv(linux.gid_mappings()),
    };
    (!unmap.uid.is_empty() || !unmap.gid.is_empty()).then_some(unmap)
}
