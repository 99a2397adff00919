//! OCI manifests for stored images: the one an image came with, or one written from its
//! config and layer blobs (images from `docker save` archives, `import`, `commit`).

use super::digest;
use super::store::{ImageError, ImageRecord, ImageStore};
use super::unpack::{self, Compression};
use serde_json::{json, Value};
use std::fs::File;
use std::io::Read;

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> ImageError {
    move |source| ImageError::Io { path: what, source }
}

/// The descriptor of a stored blob: media type from its first bytes, digest, size.
pub fn layer_descriptor(store: &ImageStore, blob: &str) -> Result<Value, ImageError> {
    let path = store.blob_path(digest::parse(blob)?);
    let shown = path.display().to_string();
    let mut f = File::open(&path).map_err(io_err(shown.clone()))?;
    let size = f.metadata().map_err(io_err(shown.clone()))?.len();
    let mut head = [0u8; 4];
    let n = f.read(&mut head).map_err(io_err(shown))?;
    let media = match unpack::detect(&head[..n]) {
        Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        Compression::None => "application/vnd.oci.image.layer.v1.tar",
    };
    Ok(json!({"mediaType": media, "digest": blob, "size": size}))
}

/// A manifest naming `config_bytes` and these layer blobs, as (hex, bytes).
pub fn build(
    store: &ImageStore,
    config_bytes: &[u8],
    layer_blobs: &[String],
) -> Result<(String, Vec<u8>), ImageError> {
    let layers = layer_blobs
        .iter()
        .map(|b| layer_descriptor(store, b))
        .collect::<Result<Vec<_>, _>>()?;
    let m = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {
            "mediaType": CONFIG_TYPE,
            "digest": format!("sha256:{}", digest::sha256_hex(config_bytes)),
            "size": config_bytes.len(),
        },
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&m).map_err(|e| ImageError::Other(e.to_string()))?;
    Ok((digest::sha256_hex(&bytes), bytes))
}

/// The manifest to ship `img` with: the stored one when it names exactly the kept layer
/// blobs, else one built now. Fails for images stored without their layer blobs.
pub fn for_image(store: &ImageStore, img: &ImageRecord) -> Result<(String, Vec<u8>), ImageError> {
    if img.layer_blobs.len() != img.diff_ids.len()
        || img
            .layer_blobs
            .iter()
            .any(|b| digest::parse(b).map_or(true, |h| !store.blob_path(h).is_file()))
    {
        return Err(ImageError::Other(format!(
            "image {} was stored without its layer blobs (by an older nsbox): load it again",
            super::short(&img.id)
        )));
    }
    if let Some(m) = &img.manifest {
        if let Ok(bytes) = store.read_blob(m) {
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let named: Vec<&str> = v["layers"]
                .as_array()
                .map(|a| a.iter().filter_map(|l| l["digest"].as_str()).collect())
                .unwrap_or_default();
            let is_oci = v["mediaType"].as_str().is_none_or(|t| t == MANIFEST_TYPE);
            if is_oci
                && named
                    == img
                        .layer_blobs
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
            {
                return Ok((digest::parse(m)?.to_string(), bytes));
            }
        }
    }
    let config = store.read_blob(&img.id)?;
    build(store, &config, &img.layer_blobs)
}
