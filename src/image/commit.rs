//! `docker commit`: a container's upper dir becomes an OCI layer (overlay whiteouts back to
//! `.wh.NAME` files, opaque dirs to `.wh..wh..opq`) on top of its image's layers, with a new
//! config (diff_id and history appended, `--change` applied). The layer blob is written into
//! `<root>/tmp`, then stored, unpacked and verified exactly like a loaded layer; nothing is
//! visible until the store's commit point.

use super::digest::HashingWriter;
use super::instr::{self, InstrError};
use super::manifest;
use super::store::{normalize, ImageError, ImageRecord, ImageStore, TempPath};
use super::tarball::TarWriter;
use super::view::{self, Dir, Stack};
use super::whiteout;
use flate2::write::GzEncoder;
use serde_json::{json, Value};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(
        "container {0} has no upper dir (it was created from a bundle, or its files are gone)"
    )]
    NoUpper(String),
    #[error("invalid reference format: {0:?}")]
    InvalidReference(String),
    #[error("write layer from {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(transparent)]
    Instr(#[from] InstrError),
    #[error(transparent)]
    Image(#[from] ImageError),
}

pub struct CommitOptions {
    /// NAME[:TAG] for the new image, if any.
    pub reference: Option<String>,
    /// `-m`: the history comment.
    pub message: Option<String>,
    /// `-a`: the author.
    pub author: Option<String>,
    /// `-c`: Dockerfile instructions.
    pub changes: Vec<String>,
    /// The history's created_by (Docker puts the container's command there).
    pub created_by: String,
    /// The container id, recorded as the config's "container".
    pub container_id: String,
    /// gzip the layer blob (as a registry would want); plain tar otherwise.
    pub gzip: bool,
    /// A user-namespaced container's mappings: its files go in as it saw them.
    pub unmap: Option<super::tarball::IdUnmap>,
}

/// Commit `upper` (a container's upper dir) on top of `base`.
pub fn commit(
    store: &ImageStore,
    base: &ImageRecord,
    upper: &Path,
    o: &CommitOptions,
) -> Result<ImageRecord, CommitError> {
    // Check everything the user gave before writing anything.
    let tag = match &o.reference {
        Some(r) => Some(normalize(r).ok_or_else(|| CommitError::InvalidReference(r.clone()))?),
        None => None,
    };
    let mut config: Value = serde_json::from_slice(&store.read_blob(&base.id)?)
        .map_err(|e| ImageError::Other(format!("image config {}: {e}", base.id)))?;
    {
        let c = config.as_object_mut().ok_or_else(|| {
            ImageError::Other(format!("image config {} is not an object", base.id))
        })?;
        let inner = c.entry("config").or_insert_with(|| json!({}));
        if !inner.is_object() {
            *inner = json!({});
        }
        if let Value::Object(inner) = inner {
            for line in &o.changes {
                instr::apply(inner, line)?;
            }
        }
    }
    if !upper.is_dir() {
        return Err(CommitError::NoUpper(o.container_id.clone()));
    }

    let blob = TempPath::new(&store.tmp(), "commit");
    let lower = Stack::new(store.layer_dirs(base)?);
    let diff_hex = write_layer(upper, &lower, &blob.path, o.gzip, o.unmap.clone())?;

    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let mut entry = json!({"created": created, "created_by": o.created_by});
    if let Some(m) = &o.message {
        entry["comment"] = json!(m);
    }
    if let Some(a) = &o.author {
        entry["author"] = json!(a);
        config["author"] = json!(a);
    }
    config["created"] = json!(created);
    config["container"] = json!(o.container_id);
    push(
        &mut config,
        &["rootfs", "diff_ids"],
        json!(format!("sha256:{diff_hex}")),
    );
    push(&mut config, &["history"], entry);
    let config_bytes = serde_json::to_vec(&config).map_err(|e| ImageError::Other(e.to_string()))?;

    let blob_hex = {
        let f = File::open(&blob.path).map_err(|source| CommitError::Io {
            path: blob.path.display().to_string(),
            source,
        })?;
        let mut r = super::digest::HashingReader::new(io::BufReader::new(f));
        r.drain().map_err(|source| CommitError::Io {
            path: blob.path.display().to_string(),
            source,
        })?;
        r.finish().1
    };
    // The new blob is not in the store yet: describe it from its temp file.
    let manifest = manifest_with_new(
        store,
        &config_bytes,
        &base.layer_blobs,
        &blob.path,
        &blob_hex,
        o.gzip,
    )?;
    Ok(store.add_layer_image(base, blob, &diff_hex, config_bytes, manifest, tag)?)
}

fn manifest_with_new(
    store: &ImageStore,
    config_bytes: &[u8],
    base_blobs: &[String],
    new_blob: &Path,
    new_hex: &str,
    gzip: bool,
) -> Result<(String, Vec<u8>), CommitError> {
    let (_, bytes) = manifest::build(store, config_bytes, base_blobs)?;
    let mut m: Value =
        serde_json::from_slice(&bytes).map_err(|e| ImageError::Other(e.to_string()))?;
    let size = std::fs::metadata(new_blob)
        .map_err(|source| CommitError::Io {
            path: new_blob.display().to_string(),
            source,
        })?
        .len();
    let media = if gzip {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    } else {
        "application/vnd.oci.image.layer.v1.tar"
    };
    push(
        &mut m,
        &["layers"],
        json!({"mediaType": media, "digest": format!("sha256:{new_hex}"), "size": size}),
    );
    let bytes = serde_json::to_vec(&m).map_err(|e| ImageError::Other(e.to_string()))?;
    Ok((super::digest::sha256_hex(&bytes), bytes))
}

/// Append `v` to the array at `path` in `root`, creating what is missing.
fn push(root: &mut Value, path: &[&str], v: Value) {
    let mut cur = root;
    for k in path {
        if !cur.is_object() {
            *cur = json!({});
        }
        cur = &mut cur[*k];
    }
    if !cur.is_array() {
        *cur = json!([]);
    }
    if let Value::Array(a) = cur {
        a.push(v);
    }
}

/// Write the upper dir as an OCI layer blob at `dest`; returns the diff_id hex.
fn write_layer(
    upper: &Path,
    lower: &Stack,
    dest: &Path,
    gzip: bool,
    unmap: Option<super::tarball::IdUnmap>,
) -> Result<String, CommitError> {
    let err = |p: &Path| {
        let path = p.display().to_string();
        move |source| CommitError::Io { path, source }
    };
    let top = Dir::open(upper).map_err(err(upper))?;
    let file = BufWriter::new(File::create(dest).map_err(err(dest))?);
    let diff_hex = if gzip {
        let gz = GzEncoder::new(file, flate2::Compression::default());
        let mut tar = TarWriter::new(HashingWriter::new(gz)).unmapping(unmap);
        walk(&top, Path::new(""), lower, &mut tar)?;
        let (gz, hex, _) = tar.finish().map_err(err(dest))?.finish();
        let file = gz.finish().map_err(err(dest))?;
        file.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .map_err(err(dest))?;
        hex
    } else {
        let mut tar = TarWriter::new(HashingWriter::new(file)).unmapping(unmap);
        walk(&top, Path::new(""), lower, &mut tar)?;
        let (mut file, hex, _) = tar.finish().map_err(err(dest))?.finish();
        file.flush().map_err(err(dest))?;
        hex
    };
    Ok(diff_hex)
}

fn walk<W: Write>(
    dir: &Dir,
    rel: &Path,
    lower: &Stack,
    tar: &mut TarWriter<W>,
) -> Result<(), CommitError> {
    let err = |p: &Path| {
        let path = p.display().to_string();
        move |source| CommitError::Io { path, source }
    };
    for name in dir.names().map_err(err(rel))? {
        let child = rel.join(&name);
        let Some(e) = dir.entry(&name).map_err(err(&child))? else {
            continue;
        };
        let meta = e.meta;
        let shown = child.to_string_lossy().into_owned();
        if view::is_whiteout(&meta) {
            let marker = rel.join(format!("{}{}", whiteout::PREFIX, name.to_string_lossy()));
            tar.marker(&marker.to_string_lossy(), meta.mtime())
                .map_err(err(&child))?;
            continue;
        }
        if super::changes::is_runtime_placeholder(&child, &meta, lower).map_err(err(&child))? {
            continue;
        }
        if meta.is_dir() {
            // Held open before it is written: a directory swapped for a symlink meanwhile
            // is neither entered nor recorded.
            let Some(sub) = dir.try_open_dir(&name).map_err(err(&child))? else {
                continue;
            };
            tar.append_at(&shown, dir, &name, &meta)
                .map_err(err(&child))?;
            if view::is_opaque_dir(&sub) {
                let marker = child.join(whiteout::OPAQUE);
                tar.marker(&marker.to_string_lossy(), meta.mtime())
                    .map_err(err(&child))?;
            }
            walk(&sub, &child, lower, tar)?;
        } else {
            tar.append_at(&shown, dir, &name, &meta)
                .map_err(err(&child))?;
        }
    }
    Ok(())
}
