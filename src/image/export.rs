//! `docker export`: the merged filesystem of a container as one plain tar, computed from its
//! layer dirs and upper dir (see `view`) so that it works the same whether the container runs
//! or not, and mounts nothing.

use super::tarball::TarWriter;
use super::view::Stack;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("export {path}: {source}")]
    Io { path: String, source: io::Error },
}

/// Write the merge of `layers` (bottom first; a container's upper dir last) as a tar to `w`,
/// owners through `unmap` for a user-namespaced container.
pub fn export<W: Write>(
    layers: Vec<PathBuf>,
    w: W,
    unmap: Option<super::tarball::IdUnmap>,
) -> Result<W, ExportError> {
    let stack = Stack::new(layers);
    let mut tar = TarWriter::new(w).unmapping(unmap);
    let root = stack.root_layers();
    walk(&stack, Path::new(""), &root, &mut tar)?;
    tar.finish().map_err(|source| ExportError::Io {
        path: "<archive>".into(),
        source,
    })
}

fn walk<W: Write>(
    stack: &Stack,
    rel: &Path,
    from: &[usize],
    tar: &mut TarWriter<W>,
) -> Result<(), ExportError> {
    let err = |p: &Path| {
        let path = p.display().to_string();
        move |source| ExportError::Io { path, source }
    };
    let entries = stack.merged_dir(rel, from).map_err(err(rel))?;
    for v in entries {
        let child = rel.join(&v.name);
        let path = stack.layers[v.layer].join(&child);
        let name = child.to_string_lossy().into_owned();
        tar.append(&name, &path, &v.meta).map_err(err(&path))?;
        if v.meta.is_dir() {
            walk(stack, &child, &v.merged_from, tar)?;
        }
    }
    Ok(())
}
