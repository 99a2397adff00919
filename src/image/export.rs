//! `docker export`: the merged filesystem of a container as one plain tar, computed from its
//! layer dirs and upper dir (see `view`) so that it works the same whether the container runs
//! or not, and mounts nothing.

use super::tarball::TarWriter;
use super::view::{self, Dir};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("export {path}: {source}")]
    Io { path: String, source: io::Error },
}

/// Write the merge of `layers` (bottom first; a container's upper dir last) as a tar to `w`,
/// owners through `unmap` for a user-namespaced container.
/// The layers are walked by fd, never through a symlink: the upper dir of a running
/// container may change under us.
pub fn export<W: Write>(
    layers: Vec<PathBuf>,
    w: W,
    unmap: Option<super::tarball::IdUnmap>,
) -> Result<W, ExportError> {
    let mut tar = TarWriter::new(w).unmapping(unmap);
    let mut roots = Vec::new();
    for l in layers.iter().rev() {
        let d = Dir::open(l).map_err(err(l))?;
        let opaque = view::is_opaque_dir(&d);
        roots.push(d);
        if opaque {
            break;
        }
    }
    walk(&roots, Path::new(""), &mut tar)?;
    tar.finish().map_err(|source| ExportError::Io {
        path: "<archive>".into(),
        source,
    })
}

fn err(p: &Path) -> impl FnOnce(io::Error) -> ExportError {
    let path = p.display().to_string();
    move |source| ExportError::Io { path, source }
}

fn walk<W: Write>(dirs: &[Dir], rel: &Path, tar: &mut TarWriter<W>) -> Result<(), ExportError> {
    let entries = view::merged_dir_at(dirs).map_err(err(rel))?;
    for v in entries {
        let child = rel.join(&v.name);
        let name = child.to_string_lossy().into_owned();
        tar.append_at(&name, &dirs[v.pos], &v.name, &v.meta)
            .map_err(err(&child))?;
        if v.meta.is_dir() {
            walk(&v.merged, &child, tar)?;
        }
    }
    Ok(())
}
