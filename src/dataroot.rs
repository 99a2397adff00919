//! The data root: where images, layers, containers and volumes live.
//!
//! ```text
//! <root>/images/       content store (blobs by sha256, image records)  — image::store
//! <root>/overlay/      unpacked layers: <layer-hex>/diff, plus short links l/<short> — storage::overlay
//! <root>/containers/   one dir per container: config.json, state.json, upper/work/merged — state
//! <root>/volumes/      named and anonymous volumes: <name>/_data — storage::volumes
//! <root>/tmp/          scratch space on the same filesystem, for temp-then-rename
//! <root>/empty/        always empty: a layer of the sealed view of nsbox (cloned_binary)
//! ```
//!
//! The root is closed to everybody but root, as Docker's is (0710 root:root): it holds
//! configs with secrets (`-e`), logs, volumes, and layers with setuid files and device
//! nodes that an unprivileged user must never reach. Its mode is fixed on every open, so
//! a root made by an older nsbox (0755) is closed too. Files with secrets are written 0600
//! through the helpers below.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Default data root, as Docker's /var/lib/docker.
pub const DEFAULT_ROOT: &str = "/var/lib/nsbox";

/// The data root's mode: owner all, group traverse only (Docker's), others nothing.
pub const ROOT_MODE: u32 = 0o710;
/// The mode of files that may hold secrets: config.json, state.json, logs, sockets.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

#[derive(Debug, thiserror::Error)]
pub enum DataRootError {
    #[error("data root {0}: {1}")]
    Io(String, io::Error),
}

#[derive(Debug, Clone)]
pub struct DataRoot {
    path: PathBuf,
}

impl DataRoot {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DataRoot { path: path.into() }
    }
    /// The data root at `path`, created if missing and closed (owned by us, mode 0710)
    /// whether it was just made or already there.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, DataRootError> {
        let root = DataRoot::new(path);
        let err = |e| DataRootError::Io(root.path.display().to_string(), e);
        std::fs::create_dir_all(&root.path).map_err(err)?;
        close_dir(&root.path).map_err(err)?;
        Ok(root)
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn images(&self) -> PathBuf {
        self.path.join("images")
    }
    pub fn overlay(&self) -> PathBuf {
        self.path.join("overlay")
    }
    pub fn containers(&self) -> PathBuf {
        self.path.join("containers")
    }
    pub fn volumes(&self) -> PathBuf {
        self.path.join("volumes")
    }
    pub fn tmp(&self) -> PathBuf {
        self.path.join("tmp")
    }
    /// An always-empty directory (the second layer of the sealed view of our binary).
    pub fn empty_dir(&self) -> PathBuf {
        self.path.join("empty")
    }
    /// The directory of one unpacked layer, keyed by the hex of its diff_id.
    pub fn layer_dir(&self, diff_id_hex: &str) -> PathBuf {
        self.overlay().join(diff_id_hex)
    }
}

/// Owned by us (root when nsbox runs as root) and mode 0710, whatever it was before.
fn close_dir(dir: &Path) -> io::Result<()> {
    let md = std::fs::symlink_metadata(dir)?;
    if !md.is_dir() {
        return Err(io::Error::other("not a directory"));
    }
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    use std::os::unix::fs::MetadataExt;
    if md.uid() != uid.as_raw() || md.gid() != gid.as_raw() {
        nix::unistd::chown(dir, Some(uid), Some(gid)).map_err(io::Error::from)?;
    }
    if md.permissions().mode() & 0o7777 != ROOT_MODE {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(ROOT_MODE))?;
    }
    Ok(())
}

/// Create (or truncate) `path` for writing, readable by its owner only, even if it
/// existed with a wider mode.
pub fn create_private(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)?;
    narrow(&f)?;
    Ok(f)
}

/// Open `path` for appending (created if missing), readable by its owner only.
pub fn append_private(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)?;
    narrow(&f)?;
    Ok(f)
}

/// Write `value` as JSON to `path`, 0600 (config.json: `-e` values are secrets).
pub fn write_json_private<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut f = io::BufWriter::new(create_private(path)?);
    serde_json::to_writer(&mut f, value)?;
    f.flush()
}

/// The umask does not narrow an existing file: fchmod it.
fn narrow(f: &File) -> io::Result<()> {
    if f.metadata()?.permissions().mode() & 0o7777 != PRIVATE_FILE_MODE {
        f.set_permissions(std::fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn open_closes_a_new_and_an_existing_root() {
        let tmp = tempfile::tempdir().unwrap();
        let fresh = tmp.path().join("a/b");
        DataRoot::open(&fresh).unwrap();
        assert_eq!(mode(&fresh), ROOT_MODE);
        let old = tmp.path().join("old");
        std::fs::create_dir(&old).unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        DataRoot::open(&old).unwrap();
        assert_eq!(mode(&old), ROOT_MODE);
    }

    #[test]
    fn private_files_are_0600_even_when_they_existed() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        std::fs::write(&p, "x").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_json_private(&p, &"secret").unwrap();
        assert_eq!(mode(&p), PRIVATE_FILE_MODE);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "\"secret\"");
        let q = tmp.path().join("log");
        append_private(&q).unwrap();
        assert_eq!(mode(&q), PRIVATE_FILE_MODE);
    }
}
