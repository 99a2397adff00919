//! What each layer of a stack does: files added, modified (shadowing a lower copy) and
//! deleted, its size; which layers touch one path; and the bytes that stay in lower layers
//! although an upper layer deleted or replaced the file (they still cost disk and pulls).
//! Sizes are regular-file bytes, each inode once per layer (as the store counts them).

use super::view::{self, Says, Stack};
use serde::Serialize;
use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("read {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{0:?}: give an absolute path inside the image, without '..'")]
    BadPath(String),
}

fn io_err(p: &Path) -> impl FnOnce(io::Error) -> AnalysisError {
    let path = p.display().to_string();
    move |source| AnalysisError::Io { path, source }
}

/// What one layer adds up to.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LayerStats {
    pub size: u64,
    pub added: u64,
    pub modified: u64,
    pub deleted: u64,
}

/// Walk layer `i` of `stack`, classifying each entry against the layers below it.
pub fn layer_stats(stack: &Stack, i: usize) -> Result<LayerStats, AnalysisError> {
    let mut st = LayerStats::default();
    let mut inodes = std::collections::HashSet::new();
    walk(&stack.layers[i], Path::new(""), &mut |rel, meta| {
        let path = stack.layers[i].join(rel);
        let below = stack.provider_below(rel, i).map_err(io_err(&path))?;
        if view::is_whiteout(meta) {
            if below.is_some() {
                st.deleted += 1;
            }
            return Ok(false);
        }
        if meta.is_file() && inodes.insert((meta.dev(), meta.ino())) {
            st.size += meta.len();
        }
        let exists_below = below.is_some();
        if meta.is_dir() && view::is_opaque(&path) {
            // Everything the lower layers had in it is hidden (re-added names are counted as
            // modified when the walk reaches them).
            let from = stack.dir_layers_below(rel, i).map_err(io_err(&path))?;
            for v in stack.merged_dir(rel, &from).map_err(io_err(&path))? {
                if view::lstat(&path.join(&v.name))
                    .map_err(io_err(&path))?
                    .is_none()
                {
                    st.deleted += 1;
                }
            }
        }
        match (meta.is_dir(), exists_below) {
            (true, true) => {} // a parent of something changed
            (_, false) => st.added += 1,
            (false, true) => st.modified += 1,
        }
        Ok(true)
    })?;
    Ok(st)
}

/// Depth-first over `root/rel` in name order; `f` returns whether to descend into a dir.
fn walk(
    root: &Path,
    rel: &Path,
    f: &mut dyn FnMut(&Path, &std::fs::Metadata) -> Result<bool, AnalysisError>,
) -> Result<(), AnalysisError> {
    let dir = root.join(rel);
    for name in view::sorted_names(&dir).map_err(io_err(&dir))? {
        let child = rel.join(&name);
        let path = root.join(&child);
        let Some(meta) = view::lstat(&path).map_err(io_err(&path))? else {
            continue;
        };
        if f(&child, &meta)? && meta.is_dir() {
            walk(root, &child, f)?;
        }
    }
    Ok(())
}

/// `PATH` as a path relative to the layer roots.
pub fn relative(path: &str) -> Result<PathBuf, AnalysisError> {
    let bad = || AnalysisError::BadPath(path.to_string());
    if !path.starts_with('/') {
        return Err(bad());
    }
    let mut out = PathBuf::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(bad()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// What one layer does to one path.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PathEvent {
    pub layer: usize,
    /// "adds", "replaces", "merges" (a directory over a lower one), "deletes", "hides"
    /// (an opaque parent directory), "deletes parent" (a parent became a file or whiteout).
    pub action: String,
    /// "file", "dir", "symlink -> target", "hardlink", "device", "fifo" for adds/replaces.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    pub size: u64,
}

/// Which layers touch `rel`, bottom first, and the one whose copy is visible at the top.
pub fn trace(stack: &Stack, rel: &Path) -> Result<(Vec<PathEvent>, Option<usize>), AnalysisError> {
    let mut events = Vec::new();
    for i in 0..stack.layers.len() {
        let path = stack.layers[i].join(rel);
        let had = stack
            .provider_below(rel, i)
            .map_err(io_err(&path))?
            .is_some();
        let says = stack.says(i, rel).map_err(io_err(&path))?;
        let (action, kind, size) = match says {
            Says::Nothing => continue,
            Says::NothingAndHidesBelow if had => ("hides", String::new(), 0),
            Says::NothingAndHidesBelow => continue,
            Says::Deleted => {
                if !had {
                    continue;
                }
                let own = view::lstat(&path)
                    .map_err(io_err(&path))?
                    .is_some_and(|m| view::is_whiteout(&m));
                (
                    if own { "deletes" } else { "deletes parent" },
                    String::new(),
                    0,
                )
            }
            Says::Here => {
                let Some(m) = view::lstat(&path).map_err(io_err(&path))? else {
                    continue;
                };
                let below_is_dir = had
                    && stack
                        .provider_below(rel, i)
                        .ok()
                        .flatten()
                        .and_then(|j| view::lstat(&stack.layers[j].join(rel)).ok().flatten())
                        .is_some_and(|lm| lm.is_dir());
                let action = match (had, m.is_dir() && below_is_dir && !view::is_opaque(&path)) {
                    (false, _) => "adds",
                    (true, true) => "merges",
                    (true, false) => "replaces",
                };
                let size = if m.is_file() { m.len() } else { 0 };
                (action, kind_of(&path, &m), size)
            }
        };
        events.push(PathEvent {
            layer: i,
            action: action.to_string(),
            kind,
            size,
        });
    }
    let top = stack.provider(rel).map_err(io_err(rel))?;
    Ok((events, top))
}

fn kind_of(path: &Path, m: &std::fs::Metadata) -> String {
    use std::os::unix::fs::FileTypeExt;
    let ft = m.file_type();
    if ft.is_symlink() {
        let t = std::fs::read_link(path).unwrap_or_default();
        format!("symlink -> {}", t.display())
    } else if ft.is_dir() {
        "dir".into()
    } else if ft.is_file() && m.nlink() > 1 {
        format!("file ({} links)", m.nlink())
    } else if ft.is_file() {
        "file".into()
    } else if ft.is_fifo() {
        "fifo".into()
    } else {
        "device".into()
    }
}

/// Bytes kept in a lower layer for a file an upper layer deleted or replaced.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Waste {
    /// "/path" in the image.
    pub path: String,
    pub size: u64,
    /// The layer holding the bytes.
    pub layer: usize,
    /// The first layer above it that deleted or replaced it.
    pub by: usize,
    /// "deleted" or "replaced".
    pub how: String,
}

/// Every wasted file, largest first.
pub fn wasted(stack: &Stack) -> Result<Vec<Waste>, AnalysisError> {
    let mut out = Vec::new();
    for i in 0..stack.layers.len() {
        // Per inode: (size, first name, whether any of its names is visible).
        let mut inodes: HashMap<(u64, u64), (u64, PathBuf, bool)> = HashMap::new();
        walk(&stack.layers[i], Path::new(""), &mut |rel, meta| {
            if meta.is_file() {
                let path = stack.layers[i].join(rel);
                let visible = stack.provider(rel).map_err(io_err(&path))? == Some(i);
                let e = inodes.entry((meta.dev(), meta.ino())).or_insert((
                    meta.len(),
                    rel.to_path_buf(),
                    false,
                ));
                e.2 |= visible;
            }
            Ok(true)
        })?;
        for (size, rel, visible) in inodes.into_values() {
            if visible || size == 0 {
                continue;
            }
            let mut by = i + 1;
            let mut how = "deleted";
            for j in i + 1..stack.layers.len() {
                let path = stack.layers[j].join(&rel);
                match stack.says(j, &rel).map_err(io_err(&path))? {
                    Says::Nothing => continue,
                    Says::Here => how = "replaced",
                    Says::Deleted | Says::NothingAndHidesBelow => how = "deleted",
                }
                by = j;
                break;
            }
            out.push(Waste {
                path: format!("/{}", rel.display()),
                size,
                layer: i,
                by,
                how: how.into(),
            });
        }
    }
    out.sort_by(|a, b| b.size.cmp(&a.size).then(a.path.cmp(&b.path)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn paths_must_be_absolute_and_clean() {
        assert_eq!(relative("/bin/sh").unwrap(), PathBuf::from("bin/sh"));
        assert_eq!(relative("/").unwrap(), PathBuf::new());
        assert!(relative("bin/sh").is_err());
        assert!(relative("/a/../etc").is_err());
    }

    #[test]
    fn replaced_file_is_wasted_and_counted_modified() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        fs::create_dir_all(a.join("d")).unwrap();
        fs::write(a.join("d/big"), vec![0u8; 1000]).unwrap();
        fs::write(a.join("d/keep"), "k").unwrap();
        fs::create_dir_all(b.join("d")).unwrap();
        fs::write(b.join("d/big"), "small").unwrap();
        fs::write(b.join("new"), "n").unwrap();
        let s = Stack::new(vec![a, b]);
        let st = layer_stats(&s, 1).unwrap();
        assert_eq!(
            st,
            LayerStats {
                size: 6,
                added: 1,
                modified: 1,
                deleted: 0
            }
        );
        let w = wasted(&s).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(
            (w[0].path.as_str(), w[0].size, w[0].by),
            ("/d/big", 1000, 1)
        );
        assert_eq!(w[0].how, "replaced");
        let (ev, top) = trace(&s, Path::new("d/big")).unwrap();
        assert_eq!(top, Some(1));
        let actions: Vec<_> = ev.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, vec!["adds", "replaces"]);
    }
}
