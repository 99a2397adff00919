//! The container's root: an overlay whose lower dirs are the image's unpacked layers
//! and whose upper/work/merged dirs belong to the container.
//!
//! Mount data must fit in one page. Like Docker's overlay2 we give every layer a short
//! link `<root>/overlay/l/<16 hex>` → `../<layer>/diff` and mount with paths relative
//! to `<root>/overlay` (a chdir around the mount call: the launcher is single-threaded),
//! so each layer costs 19 bytes: about 200 layers fit.

use crate::explain;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("overlay: {what} {path}: {err}")]
    Io {
        what: &'static str,
        path: String,
        err: std::io::Error,
    },
    #[error("overlay: mount on {path}: {err} (lowerdir={lower})")]
    Mount {
        path: String,
        lower: String,
        err: nix::Error,
    },
    #[error("overlay: image has {0} layers; at most {1} fit in one mount")]
    TooManyLayers(usize, usize),
    #[error("overlay: layer dir {0} is not <root>/overlay/<id>/diff")]
    BadLayer(String),
}

type Result<T> = std::result::Result<T, OverlayError>;

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> OverlayError + 'a {
    move |err| OverlayError::Io {
        what,
        path: path.display().to_string(),
        err,
    }
}

/// The four dirs of a container's overlay, as `docker inspect` names them.
#[derive(Debug, Clone)]
pub struct OverlayPaths {
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

impl OverlayPaths {
    pub fn for_container(container_dir: &Path, lower: Vec<PathBuf>) -> Self {
        OverlayPaths {
            lower,
            upper: container_dir.join("upper"),
            work: container_dir.join("work"),
            merged: container_dir.join("merged"),
        }
    }
}

const MAX_DATA: usize = 4095;

/// The short link for a layer dir `<overlay>/<id>/diff`: `l/<first 16 chars of id>`.
fn short_link(overlay_root: &Path, layer_diff: &Path) -> Result<String> {
    let bad = || OverlayError::BadLayer(layer_diff.display().to_string());
    let layer_dir = layer_diff.parent().ok_or_else(bad)?;
    if layer_dir.parent() != Some(overlay_root)
        || layer_diff.file_name().map(|n| n != "diff").unwrap_or(true)
    {
        return Err(bad());
    }
    let id = layer_dir
        .file_name()
        .ok_or_else(bad)?
        .to_string_lossy()
        .into_owned();
    let short = format!("l/{}", &id[..id.len().min(16)]);
    let link = overlay_root.join(&short);
    let target = PathBuf::from("..").join(&id).join("diff");
    if fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
        // Made under a private name and renamed into place: a concurrent run using the same
        // layer never sees the link missing or half-made.
        fs::create_dir_all(overlay_root.join("l")).map_err(io("mkdir", overlay_root))?;
        let tmp = overlay_root.join(format!("{short}.{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp).map_err(io("symlink", &tmp))?;
        fs::rename(&tmp, &link).map_err(io("rename", &link))?;
    }
    Ok(short)
}

/// Create upper/work/merged and mount the overlay on merged. `p.lower` is bottom first.
pub fn mount_overlay(overlay_root: &Path, p: &OverlayPaths) -> Result<()> {
    mount_overlay_on(overlay_root, p, None)
}

/// [`mount_overlay`], the layer links resolved in `layers` (an fd of `overlay_root` or of
/// an idmapped copy of it, for a user namespace) rather than in `overlay_root` itself.
pub fn mount_overlay_on(
    overlay_root: &Path,
    p: &OverlayPaths,
    layers: Option<std::os::fd::BorrowedFd<'_>>,
) -> Result<()> {
    for d in [&p.upper, &p.work, &p.merged] {
        fs::create_dir_all(d).map_err(io("mkdir", d))?;
    }
    let mut lower = Vec::with_capacity(p.lower.len());
    for l in p.lower.iter().rev() {
        lower.push(short_link(overlay_root, l)?);
    }
    if lower.is_empty() {
        // overlay needs at least one lower dir: an empty one for an empty image.
        let empty = p.merged.with_file_name("empty");
        fs::create_dir_all(&empty).map_err(io("mkdir", &empty))?;
        lower.push(empty.display().to_string());
    }
    let lowerdir = lower.join(":");
    let data = format!(
        "lowerdir={lowerdir},upperdir={},workdir={}",
        p.upper.display(),
        p.work.display()
    );
    if data.len() > MAX_DATA {
        return Err(OverlayError::TooManyLayers(
            p.lower.len(),
            p.lower.len() * MAX_DATA / data.len(),
        ));
    }
    let cwd = fs::File::open(".").ok();
    match layers {
        Some(fd) => nix::unistd::fchdir(fd).map_err(|e| io("chdir", overlay_root)(e.into()))?,
        None => std::env::set_current_dir(overlay_root).map_err(io("chdir", overlay_root))?,
    }
    let res = mount(
        Some("overlay"),
        &p.merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    );
    if let Some(cwd) = cwd {
        let _ = nix::unistd::fchdir(&cwd);
    }
    res.map_err(|err| OverlayError::Mount {
        path: p.merged.display().to_string(),
        lower: lowerdir.clone(),
        err,
    })?;
    explain::step("overlay", || {
        format!(
            "cd {} && mount -t overlay overlay -o {data} {}",
            overlay_root.display(),
            p.merged.display()
        )
    });
    Ok(())
}

/// Unmount merged if it is mounted. A busy mount is detached (MNT_DETACH) rather than
/// left behind.
pub fn unmount(merged: &Path) -> Result<()> {
    if !is_mountpoint(merged) {
        return Ok(());
    }
    if umount2(merged, MntFlags::empty()).is_err() {
        match umount2(merged, MntFlags::MNT_DETACH) {
            // EINVAL: no longer a mount point; whoever else tore it down (the monitor or
            // `rm -f`, racing after a kill) did our work.
            Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
            Err(e) => {
                return Err(OverlayError::Io {
                    what: "umount",
                    path: merged.display().to_string(),
                    err: e.into(),
                })
            }
        }
    }
    explain::step("overlay", || format!("umount {}", merged.display()));
    explain::record_removed("unmounted overlay");
    Ok(())
}

/// Whether `path` is a mount point in our mount namespace.
pub fn is_mountpoint(path: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_ref()))
}
