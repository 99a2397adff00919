//! The data root: where images, layers, containers and volumes live.
//!
//! ```text
//! <root>/images/       content store (blobs by sha256, image records)  — image::store
//! <root>/overlay/      unpacked layers: <layer-hex>/diff, plus short links l/<short> — storage::overlay
//! <root>/containers/   one dir per container: config.json, state.json, upper/work/merged — state
//! <root>/volumes/      named and anonymous volumes: <name>/_data — storage::volumes
//! <root>/tmp/          scratch space on the same filesystem, for temp-then-rename
//! ```

use std::path::{Path, PathBuf};

/// Default data root, as Docker's /var/lib/docker.
pub const DEFAULT_ROOT: &str = "/var/lib/nsbox";

#[derive(Debug, Clone)]
pub struct DataRoot {
    path: PathBuf,
}

impl DataRoot {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DataRoot { path: path.into() }
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
    /// The directory of one unpacked layer, keyed by the hex of its diff_id.
    pub fn layer_dir(&self, diff_id_hex: &str) -> PathBuf {
        self.overlay().join(diff_id_hex)
    }
}
