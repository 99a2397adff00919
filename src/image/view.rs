//! A stack of overlay layer dirs (bottom first) read the way overlayfs merges them, without
//! mounting anything: a 0/0 character device hides a name below it, a directory marked
//! `trusted.overlay.opaque=y` hides everything below it, and a non-directory hides a lower
//! directory of the same name.

use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

pub use crate::runtime::safepath::Dir;

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Whether `meta` is an overlay whiteout (character device 0/0).
pub fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Whether the directory at `path` is marked opaque.
pub fn is_opaque(path: &Path) -> bool {
    super::whiteout::lgetxattr(path, OPAQUE_XATTR).is_ok_and(|v| v == b"y")
}

/// Whether the directory held open as `dir` is marked opaque.
pub fn is_opaque_dir(dir: &Dir) -> bool {
    dir.xattr(OPAQUE_XATTR).is_ok_and(|v| v == b"y")
}

/// `lstat`, with "not there" as `None`.
pub fn lstat(path: &Path) -> io::Result<Option<Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The names in `dir`, sorted (so every listing, tar and report is deterministic).
pub fn sorted_names(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names: Vec<OsString> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    Ok(names)
}

/// Layer dirs, bottom first.
#[derive(Debug, Clone)]
pub struct Stack {
    pub layers: Vec<PathBuf>,
}

impl Stack {
    pub fn new(layers: Vec<PathBuf>) -> Self {
        Stack { layers }
    }

    /// The index of the layer whose entry at `rel` is visible when only layers `[0, top)` are
    /// stacked; `None` when nothing is there or an upper layer deleted it.
    pub fn provider_below(&self, rel: &Path, top: usize) -> io::Result<Option<usize>> {
        for i in (0..top.min(self.layers.len())).rev() {
            match self.says(i, rel)? {
                Says::Nothing => {}
                Says::NothingAndHidesBelow | Says::Deleted => return Ok(None),
                Says::Here => return Ok(Some(i)),
            }
        }
        Ok(None)
    }

    /// `provider_below` over the whole stack.
    pub fn provider(&self, rel: &Path) -> io::Result<Option<usize>> {
        self.provider_below(rel, self.layers.len())
    }

    /// What layer `i` alone says about `rel`.
    pub fn says(&self, i: usize, rel: &Path) -> io::Result<Says> {
        let mut cur = self.layers[i].clone();
        let mut opaque_ancestor = false;
        let comps: Vec<_> = rel.components().collect();
        for (n, c) in comps.iter().enumerate() {
            cur.push(c);
            let Some(m) = lstat(&cur)? else {
                return Ok(if opaque_ancestor {
                    Says::NothingAndHidesBelow
                } else {
                    Says::Nothing
                });
            };
            let last = n + 1 == comps.len();
            if is_whiteout(&m) {
                return Ok(Says::Deleted);
            }
            if last {
                return Ok(Says::Here);
            }
            if !m.is_dir() {
                // A file where a parent directory should be: the path cannot exist below.
                return Ok(Says::Deleted);
            }
            if is_opaque(&cur) {
                opaque_ancestor = true;
            }
        }
        Ok(Says::Here) // the root
    }
}

/// What one layer says about one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Says {
    /// No entry: look lower.
    Nothing,
    /// No entry, but an opaque parent here hides every lower layer's entry.
    NothingAndHidesBelow,
    /// A whiteout at the path or a non-directory at a parent: it is gone.
    Deleted,
    /// An entry (file, dir, link...) at the path.
    Here,
}

/// One visible entry of a merged directory.
#[derive(Debug, Clone)]
pub struct Visible {
    pub name: OsString,
    /// The layer providing it.
    pub layer: usize,
    pub meta: Metadata,
    /// For a directory: the layers whose copies of it merge (top first).
    pub merged_from: Vec<usize>,
}

impl Stack {
    /// The visible entries of directory `rel`, where `from` lists the layers (top first) whose
    /// copies of `rel` merge (all layers for the root).
    pub fn merged_dir(&self, rel: &Path, from: &[usize]) -> io::Result<Vec<Visible>> {
        let mut seen: std::collections::BTreeMap<OsString, Option<Visible>> = Default::default();
        for &i in from {
            let dir = self.layers[i].join(rel);
            for name in sorted_names(&dir)? {
                if seen.contains_key(&name) {
                    continue;
                }
                let Some(meta) = lstat(&dir.join(&name))? else {
                    continue;
                };
                let v = (!is_whiteout(&meta)).then(|| Visible {
                    name: name.clone(),
                    layer: i,
                    meta,
                    merged_from: Vec::new(),
                });
                seen.insert(name, v);
            }
        }
        let mut out = Vec::new();
        for (_, v) in seen {
            let Some(mut v) = v else { continue };
            if v.meta.is_dir() {
                let child = rel.join(&v.name);
                // Lower copies merge down to the first opaque one or the first non-directory.
                for &i in from.iter().skip_while(|&&i| i != v.layer) {
                    let p = self.layers[i].join(&child);
                    match lstat(&p)? {
                        None => continue,
                        Some(m) if m.is_dir() => {
                            v.merged_from.push(i);
                            if is_opaque(&p) {
                                break;
                            }
                        }
                        Some(_) => break,
                    }
                }
            }
            out.push(v);
        }
        Ok(out)
    }

    /// The layers below `top` (top first) whose copies of directory `rel` merge into what
    /// `[0, top)` shows: down to the first opaque copy, a non-directory or a deletion.
    pub fn dir_layers_below(&self, rel: &Path, top: usize) -> io::Result<Vec<usize>> {
        let mut out = Vec::new();
        for k in (0..top.min(self.layers.len())).rev() {
            match self.says(k, rel)? {
                Says::Nothing => continue,
                Says::NothingAndHidesBelow | Says::Deleted => break,
                Says::Here => {
                    let p = self.layers[k].join(rel);
                    if !lstat(&p)?.is_some_and(|m| m.is_dir()) {
                        break;
                    }
                    out.push(k);
                    if is_opaque(&p) {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// One visible entry of a merged directory walked by fd (see `merged_dir_at`).
pub struct VisibleAt {
    pub name: OsString,
    /// The position in the caller's `dirs` of the copy providing it.
    pub pos: usize,
    pub meta: Metadata,
    /// For a directory: its copies that merge (top first), open.
    pub merged: Vec<Dir>,
}

/// The visible entries of a merged directory whose copies (top first, down to the first
/// opaque one) are held open as `dirs`. Everything is read relative to those fds without
/// following a symlink, so a container changing its upper dir meanwhile cannot redirect us.
pub fn merged_dir_at(dirs: &[Dir]) -> io::Result<Vec<VisibleAt>> {
    let mut seen: std::collections::BTreeMap<OsString, Option<VisibleAt>> = Default::default();
    for (pos, d) in dirs.iter().enumerate() {
        for name in d.names()? {
            if seen.contains_key(&name) {
                continue;
            }
            let Some(e) = d.entry(&name)? else {
                continue;
            };
            let v = (!is_whiteout(&e.meta)).then(|| VisibleAt {
                name: name.clone(),
                pos,
                meta: e.meta,
                merged: Vec::new(),
            });
            seen.insert(name, v);
        }
    }
    let mut out = Vec::new();
    for (_, v) in seen {
        let Some(mut v) = v else { continue };
        if v.meta.is_dir() {
            // Lower copies merge down to the first opaque one or the first non-directory.
            for d in &dirs[v.pos..] {
                match d.entry(&v.name)? {
                    None => continue,
                    Some(e) if e.meta.is_dir() => {
                        let Some(sub) = d.try_open_dir(&v.name)? else {
                            break; // replaced meanwhile
                        };
                        let opaque = is_opaque_dir(&sub);
                        v.merged.push(sub);
                        if opaque {
                            break;
                        }
                    }
                    Some(_) => break,
                }
            }
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk(dir: &Path, rel: &str, data: &str) {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }

    #[test]
    fn upper_files_shadow_and_whiteouts_delete() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        mk(&a, "etc/motd", "hi");
        mk(&a, "etc/keep", "k");
        mk(&a, "bin/x", "x");
        mk(&b, "bin/x", "xx");
        fs::create_dir_all(b.join("etc")).unwrap();
        if super::super::whiteout::make_whiteout(&b.join("etc/motd")).is_err() {
            return; // not root: mknod is refused
        }
        let s = Stack::new(vec![a, b]);
        assert_eq!(s.provider(Path::new("bin/x")).unwrap(), Some(1));
        assert_eq!(s.provider(Path::new("etc/motd")).unwrap(), None);
        assert_eq!(s.provider(Path::new("etc/keep")).unwrap(), Some(0));
        assert_eq!(s.provider_below(Path::new("etc/motd"), 1).unwrap(), Some(0));
        let etc = s.merged_dir(Path::new(""), &[1, 0]).unwrap();
        let etc = etc.iter().find(|v| v.name == "etc").unwrap();
        assert_eq!(etc.merged_from, vec![1, 0]);
        let names: Vec<_> = s
            .merged_dir(Path::new("etc"), &etc.merged_from)
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, vec![OsString::from("keep")]);
    }
}
