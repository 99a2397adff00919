//! `docker save`: images as one OCI archive (oci-layout, index.json, blobs/sha256/...) with
//! the blobs exactly as stored, so digests survive the round trip through any OCI tool.

use super::digest;
use super::manifest::{self, MANIFEST_TYPE};
use super::store::{ImageError, ImageRecord, ImageStore};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Write};

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("write archive: {0}")]
    Io(#[source] io::Error),
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// One image to save and the tags to name it by in index.json ("name:tag").
pub struct Item {
    pub image: ImageRecord,
    pub tags: Vec<String>,
}

/// Write the archive to `w`. Everything is looked up before the first byte is written.
pub fn save<W: Write>(store: &ImageStore, items: &[Item], w: W) -> Result<W, SaveError> {
    let mut index = Vec::new();
    let mut blobs: BTreeSet<String> = BTreeSet::new();
    let mut small: Vec<(String, Vec<u8>)> = Vec::new();
    for it in items {
        let (mhex, mbytes) = manifest::for_image(store, &it.image)?;
        let desc = |ann: Value| json!({"mediaType": MANIFEST_TYPE, "digest": format!("sha256:{mhex}"), "size": mbytes.len(), "annotations": ann});
        if it.tags.is_empty() {
            let mut d = desc(json!({}));
            if let Value::Object(o) = &mut d {
                o.remove("annotations");
            }
            index.push(d);
        }
        for t in &it.tags {
            let tag = t.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
            index.push(desc(json!({
                "io.containerd.image.name": t,
                "org.opencontainers.image.ref.name": tag,
            })));
        }
        let config = store.read_blob(&it.image.id)?;
        small.push((it.image.hex().to_string(), config));
        small.push((mhex.clone(), mbytes.clone()));
        for b in &it.image.layer_blobs {
            blobs.insert(digest::parse(b).map_err(ImageError::from)?.to_string());
        }
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": index,
    });
    let mut tar = tar::Builder::new(w);
    let mut add = |name: &str, data: &mut dyn io::Read, size: u64| -> io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(size);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        tar.append_data(&mut h, name, data)
    };
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    add("oci-layout", &mut &layout[..], layout.len() as u64).map_err(SaveError::Io)?;
    let index = serde_json::to_vec(&index).map_err(|e| ImageError::Other(e.to_string()))?;
    add("index.json", &mut &index[..], index.len() as u64).map_err(SaveError::Io)?;
    let mut written = BTreeSet::new();
    for (hex, data) in &small {
        if written.insert(hex.clone()) {
            add(
                &format!("blobs/sha256/{hex}"),
                &mut &data[..],
                data.len() as u64,
            )
            .map_err(SaveError::Io)?;
        }
    }
    for hex in blobs {
        if !written.insert(hex.clone()) {
            continue;
        }
        let path = store.blob_path(&hex);
        let mut f = File::open(&path).map_err(|source| ImageError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let size = f.metadata().map_err(SaveError::Io)?.len();
        add(&format!("blobs/sha256/{hex}"), &mut f, size).map_err(SaveError::Io)?;
    }
    tar.into_inner().map_err(SaveError::Io)
}
