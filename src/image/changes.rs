//! `docker diff`: what a container's upper dir changed relative to its image's layers.
//! A whiteout is a deletion; an entry that exists below is a change, else an addition. The
//! children of an opaque directory are all additions (nothing below shows through).

use super::view::{self, Dir, Stack};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    #[error("read {path}: {source}")]
    Io { path: String, source: io::Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Kind {
    #[serde(rename = "C")]
    Modified,
    #[serde(rename = "A")]
    Added,
    #[serde(rename = "D")]
    Deleted,
}

impl Kind {
    pub fn letter(self) -> &'static str {
        match self {
            Kind::Modified => "C",
            Kind::Added => "A",
            Kind::Deleted => "D",
        }
    }
}

/// One line of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    #[serde(rename = "Kind")]
    pub kind: Kind,
    /// Absolute path inside the container ("/etc/motd").
    #[serde(rename = "Path")]
    pub path: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.letter(), self.path)
    }
}

/// Files the runtime creates as bind-mount targets for its own /etc files. Docker keeps them
/// in an init layer below the container's; nsbox has none, so diff and commit skip them
/// while they are still the empty placeholders and nothing below has them.
const RUNTIME_FILES: [&str; 3] = ["etc/hostname", "etc/hosts", "etc/resolv.conf"];

/// Whether `rel` in an upper dir is one of the runtime's empty mount-point placeholders.
pub fn is_runtime_placeholder(
    rel: &Path,
    meta: &std::fs::Metadata,
    lower: &Stack,
) -> io::Result<bool> {
    Ok(RUNTIME_FILES.iter().any(|f| rel == Path::new(f))
        && meta.is_file()
        && meta.len() == 0
        && lower.provider(rel)?.is_none())
}

/// The changes `upper` makes on top of `lower` (layer dirs, bottom first), sorted by path
/// component by component (a directory right before its children, as `docker diff`).
/// The upper dir is walked by fd without following symlinks (its container may be running).
pub fn changes(upper: &Path, lower: &[PathBuf]) -> Result<Vec<Change>, ChangesError> {
    let stack = Stack::new(lower.to_vec());
    let mut out = Vec::new();
    let dir = Dir::open(upper).map_err(io_err(upper))?;
    walk(&dir, Path::new(""), &stack, false, &mut out)?;
    Ok(out)
}

fn io_err(p: &Path) -> impl FnOnce(io::Error) -> ChangesError {
    let path = p.display().to_string();
    move |source| ChangesError::Io { path, source }
}

fn walk(
    dir: &Dir,
    rel: &Path,
    lower: &Stack,
    under_opaque: bool,
    out: &mut Vec<Change>,
) -> Result<(), ChangesError> {
    for name in dir.names().map_err(io_err(rel))? {
        let child = rel.join(&name);
        let Some(e) = dir.entry(&name).map_err(io_err(&child))? else {
            continue; // removed while we looked
        };
        let meta = e.meta;
        let shown = format!("/{}", child.display());
        if view::is_whiteout(&meta) {
            // A whiteout for something that never existed below hides nothing: skip it.
            let below = !under_opaque && lower.provider(&child).map_err(io_err(&child))?.is_some();
            if below {
                out.push(Change {
                    kind: Kind::Deleted,
                    path: shown,
                });
            }
            continue;
        }
        if is_runtime_placeholder(&child, &meta, lower).map_err(io_err(&child))? {
            continue;
        }
        let exists_below =
            !under_opaque && lower.provider(&child).map_err(io_err(&child))?.is_some();
        let kind = if exists_below {
            Kind::Modified
        } else {
            Kind::Added
        };
        out.push(Change { kind, path: shown });
        if meta.is_dir() {
            let Some(sub) = dir.try_open_dir(&name).map_err(io_err(&child))? else {
                continue; // replaced by a non-directory meanwhile
            };
            let at = out.len();
            let opaque = under_opaque || view::is_opaque_dir(&sub);
            walk(&sub, &child, lower, opaque, out)?;
            // A directory copied up only to hold placeholders changed nothing.
            let holds_placeholders = RUNTIME_FILES
                .iter()
                .any(|f| Path::new(f).parent() == Some(child.as_path()));
            if kind == Kind::Modified && !opaque && holds_placeholders && out.len() == at {
                out.pop();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn adds_and_changes_in_path_order() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("l"), t.path().join("u"));
        fs::create_dir_all(lower.join("etc")).unwrap();
        fs::write(lower.join("etc/hosts"), "x").unwrap();
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::write(upper.join("etc/hosts"), "y").unwrap();
        fs::create_dir_all(upper.join("tmp")).unwrap();
        fs::write(upper.join("tmp/new"), "n").unwrap();
        fs::write(upper.join("etc-x"), "n").unwrap();
        let got: Vec<String> = changes(&upper, &[lower])
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            got,
            vec!["C /etc", "C /etc/hosts", "A /etc-x", "A /tmp", "A /tmp/new"]
        );
    }
}
