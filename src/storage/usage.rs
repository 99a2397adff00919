//! How much disk a directory tree takes, as Docker's directory.Size measures it (volumes,
//! container upper dirs, in `volume ls -s`, `system df` and the prune reports).

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Bytes in the files under `dir`, as Docker's directory.Size measures a volume: symlinks
/// are not followed, hard links count once, other filesystems mounted inside are skipped.
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(top) = fs::symlink_metadata(dir) else {
        return 0;
    };
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            let Ok(md) = fs::symlink_metadata(&path) else {
                continue;
            };
            if md.is_dir() {
                if md.dev() == top.dev() {
                    stack.push(path);
                }
            } else if md.nlink() <= 1 || seen.insert((md.dev(), md.ino())) {
                total += md.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn du_counts_files_once_and_skips_symlink_targets() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("_data");
        fs::create_dir_all(d.join("sub")).unwrap();
        fs::write(d.join("a"), vec![0u8; 1000]).unwrap();
        fs::write(d.join("sub/b"), vec![0u8; 234]).unwrap();
        fs::hard_link(d.join("a"), d.join("sub/a-again")).unwrap();
        let big = tmp.path().join("outside");
        fs::write(&big, vec![0u8; 100_000]).unwrap();
        std::os::unix::fs::symlink(&big, d.join("link")).unwrap();
        let link_len = fs::symlink_metadata(d.join("link")).unwrap().len();
        assert_eq!(disk_usage(&d), 1234 + link_len);
        assert_eq!(disk_usage(&tmp.path().join("missing")), 0);
    }
}
