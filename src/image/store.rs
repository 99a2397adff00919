//! The content store under `<root>/images`:
//!
//! ```text
//! images/blobs/sha256/<hex>   config and manifest blobs (layers live unpacked, see below)
//! images/db/<config hex>.json one ImageRecord per image (written last: the commit point)
//! images/layers/<hex>.json    unpacked size of a layer, keyed by diff_id
//! images/repositories.json    {"name:tag": "sha256:<id>"}: the only place tags live
//! images/lock                 flock held while the db, tags or layer dirs change
//! overlay/<diff hex>/diff     each layer unpacked once, shared by every image using it
//! ```

use super::digest::{self, DigestError};
use super::load::{self, ImagePlan, LayerPlan, LoadError, Source};
use super::unpack::{self, UnpackError};
use crate::dataroot::DataRoot;
pub(super) use crate::scratch::TempPath;
use nix::fcntl::{Flock, FlockArg};
use oci_spec::image::ImageConfiguration;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("No such image: {0}")]
    NotFound(String),
    #[error("invalid reference format: {0:?}")]
    InvalidReference(String),
    #[error("ambiguous image id prefix {0:?}: matches more than one image")]
    Ambiguous(String),
    #[error("conflict: unable to delete {0} (must be forced) - image is referenced in multiple repositories")]
    MultipleTags(String),
    #[error(
        "conflict: unable to remove {0} (must be forced) - image is being used by a container"
    )]
    InUse(String),
    #[error("layer {0} is missing from the store")]
    LayerMissing(String),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("corrupt store file {path}: {source}")]
    Corrupt {
        path: String,
        source: serde_json::Error,
    },
    #[error("layer {member}: {source}")]
    Layer { member: String, source: UnpackError },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("{0}")]
    Other(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// One image as the store knows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ImageRecord {
    /// "sha256:<hex>" of the config blob (Docker's image id).
    pub id: String,
    /// "name:tag" references pointing at this image (filled from repositories.json on read).
    pub repo_tags: Vec<String>,
    /// Layer diff_ids ("sha256:<hex>"), bottom first.
    pub diff_ids: Vec<String>,
    /// RFC 3339 creation time from the image config, if any.
    pub created: Option<String>,
    /// Total unpacked size in bytes.
    pub size: u64,
    /// Unpacked size of each layer, bottom first.
    #[serde(default)]
    pub layer_sizes: Vec<u64>,
    /// "sha256:<hex>" of the OCI manifest the image came with, if any.
    #[serde(default)]
    pub manifest: Option<String>,
    /// "sha256:<hex>" of each layer blob as it came (kept in the store so that `save` can
    /// write the image back with the same digests), bottom first; empty for images stored
    /// before blobs were kept.
    #[serde(default)]
    pub layer_blobs: Vec<String>,
}

impl ImageRecord {
    /// The hex of the id (the config digest).
    pub fn hex(&self) -> &str {
        self.id.strip_prefix("sha256:").unwrap_or(&self.id)
    }
}

/// What `prune` removed, and the unpacked bytes of the layers it freed.
#[derive(Debug, Default)]
pub struct Pruned {
    pub removed: Vec<Removed>,
    pub reclaimed: u64,
}

/// What `remove` did, in order, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    Untagged(String),
    Deleted(String),
}

impl fmt::Display for Removed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Removed::Untagged(t) => write!(f, "Untagged: {t}"),
            Removed::Deleted(id) => write!(f, "Deleted: {id}"),
        }
    }
}

/// Docker's reference normalisation: `busybox` → `busybox:latest`,
/// `docker.io/library/busybox:1` → `busybox:1`. `None` if it is not a valid name[:tag]
/// (digest references, `name@sha256:...`, are not supported).
pub fn normalize(reference: &str) -> Option<String> {
    if reference.is_empty() || reference.contains('@') {
        return None;
    }
    let last_slash = reference.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match reference[last_slash..].rfind(':') {
        Some(i) => (
            &reference[..last_slash + i],
            &reference[last_slash + i + 1..],
        ),
        None => (reference, "latest"),
    };
    let mut name = name;
    for prefix in [
        "docker.io/library/",
        "index.docker.io/library/",
        "docker.io/",
        "index.docker.io/",
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest;
            break;
        }
    }
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    // The first component may be a registry host with a port; the rest is lowercase.
    let (host, path) = match name.split_once('/') {
        Some((h, p)) if h.contains(['.', ':']) || h == "localhost" => (Some(h), p),
        _ => (None, name),
    };
    let host_ok = host.is_none_or(|h| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b))
    });
    let path_ok = !path.is_empty()
        && path.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        });
    (tag_ok && host_ok && path_ok).then(|| format!("{name}:{tag}"))
}

/// A temp file or dir under `<root>/tmp`, removed on drop unless kept.
/// A layer unpacked into a temp dir, verified, waiting for the commit.
struct Staged {
    dir: TempPath,
    size: u64,
}

/// Everything one load, import or commit stages before the commit point.
#[derive(Default)]
struct Batch {
    /// Unpacked layers by diff_id hex.
    layers: HashMap<String, Staged>,
    /// Layer blob files by blob hex.
    blobs: HashMap<String, TempPath>,
    /// Per image plan: the blob hex of each layer, bottom first.
    layer_blobs: Vec<Vec<String>>,
}

pub struct ImageStore {
    root: DataRoot,
}

impl ImageStore {
    pub fn open(root: &DataRoot) -> Result<Self, ImageError> {
        let s = ImageStore { root: root.clone() };
        for d in [
            s.blobs(),
            s.db(),
            s.layers_meta(),
            root.tmp(),
            root.overlay(),
        ] {
            fs::create_dir_all(&d).map_err(io_err(&d))?;
        }
        s.sweep_tmp();
        Ok(s)
    }

    /// Remove what a killed loader or committer left in `<root>/tmp` (scratch::sweep).
    fn sweep_tmp(&self) {
        crate::scratch::sweep(&self.root.tmp());
    }

    pub(super) fn tmp(&self) -> PathBuf {
        self.root.tmp()
    }

    /// Where the blob with this hex lives (config, manifest or layer).
    pub(super) fn blob_path(&self, hex: &str) -> PathBuf {
        self.blobs().join(hex)
    }

    fn blob_present(&self, hex: &str) -> bool {
        self.blobs().join(hex).is_file()
    }

    /// The bytes of a small blob (config, manifest).
    pub(super) fn read_blob(&self, digest_str: &str) -> Result<Vec<u8>, ImageError> {
        let p = self.blobs().join(digest::parse(digest_str)?);
        fs::read(&p).map_err(io_err(&p))
    }

    fn blobs(&self) -> PathBuf {
        self.root.images().join("blobs/sha256")
    }
    fn db(&self) -> PathBuf {
        self.root.images().join("db")
    }
    fn layers_meta(&self) -> PathBuf {
        self.root.images().join("layers")
    }
    fn tags_file(&self) -> PathBuf {
        self.root.images().join("repositories.json")
    }

    fn lock(&self) -> Result<Flock<File>, ImageError> {
        let p = self.root.images().join("lock");
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io_err(&p))?;
        Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| io_err(&p)(e.into()))
    }

    /// Write `data` to `path` via a temp file in the same dir and a rename.
    fn write_atomic(&self, path: &Path, data: &[u8]) -> Result<(), ImageError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = TempPath::new(dir, ".tmp");
        let mut f = File::create(&tmp.path).map_err(io_err(&tmp.path))?;
        f.write_all(data)
            .and_then(|()| f.sync_all())
            .map_err(io_err(&tmp.path))?;
        fs::rename(&tmp.path, path).map_err(io_err(path))
    }

    fn read_tags(&self) -> Result<BTreeMap<String, String>, ImageError> {
        let p = self.tags_file();
        match fs::read(&p) {
            Ok(data) => serde_json::from_slice(&data).map_err(|source| ImageError::Corrupt {
                path: p.display().to_string(),
                source,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(io_err(&p)(e)),
        }
    }

    fn write_tags(&self, tags: &BTreeMap<String, String>) -> Result<(), ImageError> {
        let data = serde_json::to_vec_pretty(tags).map_err(|e| ImageError::Other(e.to_string()))?;
        self.write_atomic(&self.tags_file(), &data)
    }

    /// Every record hex in the db.
    fn record_hexes(&self) -> Result<Vec<String>, ImageError> {
        let db = self.db();
        let mut out = Vec::new();
        for e in fs::read_dir(&db).map_err(io_err(&db))? {
            let name = e.map_err(io_err(&db))?.file_name();
            if let Some(hex) = name.to_str().and_then(|n| n.strip_suffix(".json")) {
                if digest::is_hex64(hex) {
                    out.push(hex.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn read_record(
        &self,
        hex: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<ImageRecord, ImageError> {
        let p = self.db().join(format!("{hex}.json"));
        let data = fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImageError::NotFound(format!("sha256:{hex}")),
            _ => io_err(&p)(e),
        })?;
        let mut rec: ImageRecord =
            serde_json::from_slice(&data).map_err(|source| ImageError::Corrupt {
                path: p.display().to_string(),
                source,
            })?;
        rec.repo_tags = tags
            .iter()
            .filter(|(_, id)| **id == rec.id)
            .map(|(t, _)| t.clone())
            .collect();
        Ok(rec)
    }

    /// All images, newest first.
    pub fn list(&self) -> Result<Vec<ImageRecord>, ImageError> {
        let tags = self.read_tags()?;
        let mut out = Vec::new();
        for hex in self.record_hexes()? {
            match self.read_record(&hex, &tags) {
                Ok(r) => out.push(r),
                // Removed between the listing and the read.
                Err(ImageError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// name[:tag], full id, or a unique id prefix (with or without `sha256:`).
    pub fn resolve(&self, reference: &str) -> Result<ImageRecord, ImageError> {
        let tags = self.read_tags()?;
        if let Some(id) = normalize(reference).and_then(|n| tags.get(&n)) {
            return self.read_record(digest::parse(id)?, &tags);
        }
        let prefix = reference.strip_prefix("sha256:").unwrap_or(reference);
        if !prefix.is_empty() && prefix.len() <= 64 && prefix.bytes().all(|b| b.is_ascii_hexdigit())
        {
            let prefix = prefix.to_ascii_lowercase();
            let hits: Vec<String> = self
                .record_hexes()?
                .into_iter()
                .filter(|h| h.starts_with(&prefix))
                .collect();
            match hits.as_slice() {
                [one] => return self.read_record(one, &tags),
                [] => {}
                _ => return Err(ImageError::Ambiguous(reference.to_string())),
            }
        }
        Err(ImageError::NotFound(reference.to_string()))
    }

    fn config_bytes(&self, img: &ImageRecord) -> Result<Vec<u8>, ImageError> {
        let p = self.blobs().join(digest::parse(&img.id)?);
        fs::read(&p).map_err(io_err(&p))
    }

    #[allow(dead_code)] // contract: used by `run` (spec::build) once it lands
    pub fn config(&self, img: &ImageRecord) -> Result<ImageConfiguration, ImageError> {
        let data = self.config_bytes(img)?;
        serde_json::from_slice(&data).map_err(|source| ImageError::Corrupt {
            path: img.id.clone(),
            source,
        })
    }

    /// The unpacked layer dirs, bottom first.
    #[allow(dead_code)] // contract: used by storage::overlay once it lands
    pub fn layer_dirs(&self, img: &ImageRecord) -> Result<Vec<PathBuf>, ImageError> {
        img.diff_ids
            .iter()
            .map(|d| {
                let dir = self.root.layer_dir(digest::parse(d)?).join("diff");
                if dir.is_dir() {
                    Ok(dir)
                } else {
                    Err(ImageError::LayerMissing(d.clone()))
                }
            })
            .collect()
    }

    /// Load every image in an OCI layout dir, OCI archive or docker-save tar. The returned
    /// records carry the tags the archive set (`repo_tags`), as `docker load` reports them.
    pub fn load(&self, path: &Path, progress: bool) -> Result<Vec<ImageRecord>, ImageError> {
        let scratch = TempPath::new(&self.root.tmp(), "archive");
        let src = Source::open(path, &scratch.path)?;
        let plans = load::plans(&src)?;
        let total = plans.iter().map(|p| p.layers.len() as u64).sum();
        let bar = progress.then(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} layers")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        let mut staged = Batch::default();
        // Every layer blob is read and checked on every load (its digest, and its diff_id
        // through the decompressor), even when its layer is unpacked already: the store
        // never takes, and a load never accepts, a blob it has not verified. A member that
        // serves several images (docker save) is checked once per diff_id.
        let mut verified: HashMap<(String, String), String> = HashMap::new();
        for plan in &plans {
            let mut these = Vec::new();
            for layer in &plan.layers {
                if let Some(b) = &bar {
                    b.set_message(format!("Loading layer {}", &layer.diff_hex[..12]));
                }
                let key = (layer.member.clone(), layer.diff_hex.clone());
                let hex = match verified.get(&key) {
                    Some(h) => h.clone(),
                    None => {
                        let hex = self.verify_or_stage(&src, layer, &mut staged)?;
                        crash_point("layer-staged");
                        verified.insert(key, hex.clone());
                        hex
                    }
                };
                these.push(hex);
                if let Some(b) = &bar {
                    b.inc(1);
                }
            }
            staged.layer_blobs.push(these);
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        self.commit(&plans, staged)
    }

    /// Read one layer blob of a load and check it. A blob the store holds already, whose
    /// layer is unpacked, is only streamed through the digests; anything else is copied to
    /// a temp file (verified) and, when its layer is missing, unpacked from there.
    fn verify_or_stage(
        &self,
        src: &Source,
        layer: &LayerPlan,
        staged: &mut Batch,
    ) -> Result<String, ImageError> {
        let need_layer =
            !staged.layers.contains_key(&layer.diff_hex) && !self.layer_present(&layer.diff_hex);
        let have_blob = layer
            .blob_hex
            .as_ref()
            .filter(|h| staged.blobs.contains_key(*h) || self.blob_present(h));
        let reader = src.open_member(&layer.member)?;
        if let (Some(hex), false) = (have_blob, need_layer) {
            self.check_digests(reader, layer)?;
            return Ok(hex.clone());
        }
        let (blob, hex) = self.stage_blob(reader, &layer.member, layer.blob_hex.as_deref())?;
        let f = File::open(&blob.path).map_err(io_err(&blob.path))?;
        if need_layer {
            let s = self.stage_layer(io::BufReader::new(f), layer)?;
            staged.layers.insert(layer.diff_hex.clone(), s);
        } else {
            self.check_digests(io::BufReader::new(f), layer)?;
        }
        staged.blobs.entry(hex.clone()).or_insert(blob);
        Ok(hex)
    }

    /// The blob digest (when known) and the diff_id of a layer stream, checked.
    fn check_digests(&self, reader: impl io::Read, layer: &LayerPlan) -> Result<(), ImageError> {
        let (blob_hex, diff_hex) = unpack::digests(reader).map_err(|source| ImageError::Layer {
            member: layer.member.clone(),
            source,
        })?;
        if let Some(blob) = &layer.blob_hex {
            digest::check(&layer.member, blob, &blob_hex)?;
        }
        digest::check(
            &format!("diff_id of {}", layer.member),
            &layer.diff_hex,
            &diff_hex,
        )?;
        Ok(())
    }

    /// Copy a layer blob into a temp file, hashing it; check it against `expected` if known.
    fn stage_blob(
        &self,
        reader: impl io::Read,
        member: &str,
        expected: Option<&str>,
    ) -> Result<(TempPath, String), ImageError> {
        let tmp = TempPath::new(&self.root.tmp(), "blob");
        let mut f = File::create(&tmp.path).map_err(io_err(&tmp.path))?;
        let mut r = digest::HashingReader::new(reader);
        io::copy(&mut r, &mut f)
            .and_then(|_| f.sync_all())
            .map_err(io_err(&tmp.path))?;
        let (_, hex, _) = r.finish();
        if let Some(e) = expected {
            digest::check(member, e, &hex)?;
        }
        Ok((tmp, hex))
    }

    /// Store an image built from `base` plus one new layer whose blob sits at `blob` (a temp
    /// file of ours): the layer is unpacked and verified like a loaded one, then everything
    /// is committed at once. `config_bytes` must name the new diff_id last.
    pub(super) fn add_layer_image(
        &self,
        base: &ImageRecord,
        blob: TempPath,
        diff_hex: &str,
        config_bytes: Vec<u8>,
        manifest: (String, Vec<u8>),
        tag: Option<String>,
    ) -> Result<ImageRecord, ImageError> {
        if base.layer_blobs.len() != base.diff_ids.len() {
            return Err(ImageError::Other(format!(
                "image {} was stored without its layer blobs (by an older nsbox): load it again",
                short(&base.id)
            )));
        }
        let f = File::open(&blob.path).map_err(io_err(&blob.path))?;
        let blob_hex = {
            let mut r = digest::HashingReader::new(io::BufReader::new(f));
            r.drain().map_err(io_err(&blob.path))?;
            r.finish().1
        };
        let mut layers: Vec<LayerPlan> = base
            .diff_ids
            .iter()
            .zip(&base.layer_blobs)
            .map(|(d, b)| {
                Ok(LayerPlan {
                    member: d.clone(),
                    blob_hex: Some(digest::parse(b)?.to_string()),
                    diff_hex: digest::parse(d)?.to_string(),
                })
            })
            .collect::<Result<_, ImageError>>()?;
        let new = LayerPlan {
            member: "new layer".into(),
            blob_hex: Some(blob_hex.clone()),
            diff_hex: diff_hex.to_string(),
        };
        let mut staged = Batch::default();
        if !self.layer_present(diff_hex) {
            let f = File::open(&blob.path).map_err(io_err(&blob.path))?;
            staged.layers.insert(
                diff_hex.to_string(),
                self.stage_layer(io::BufReader::new(f), &new)?,
            );
        }
        layers.push(new);
        staged
            .layer_blobs
            .push(layers.iter().filter_map(|l| l.blob_hex.clone()).collect());
        staged.blobs.insert(blob_hex, blob);
        let config: ImageConfiguration =
            serde_json::from_slice(&config_bytes).map_err(|source| ImageError::Corrupt {
                path: "new image config".into(),
                source,
            })?;
        let plan = ImagePlan {
            config_hex: digest::sha256_hex(&config_bytes),
            config_bytes,
            config,
            manifest: Some(manifest),
            layers,
            tags: tag.into_iter().collect(),
        };
        let mut recs = self.commit(&[plan], staged)?;
        recs.pop()
            .ok_or_else(|| ImageError::Other("commit produced no image".into()))
    }

    /// `docker import`: a rootfs tar (plain or gzip) as a one-layer image named `reference`.
    pub fn import(&self, path: &Path, reference: &str) -> Result<ImageRecord, ImageError> {
        let tag = normalize(reference)
            .ok_or_else(|| ImageError::InvalidReference(reference.to_string()))?;
        let member = path.display().to_string();
        let f = File::open(path).map_err(io_err(path))?;
        let (blob, blob_hex) = self.stage_blob(io::BufReader::new(f), &member, None)?;
        let f = File::open(&blob.path).map_err(io_err(&blob.path))?;
        let dir = TempPath::new(&self.root.tmp(), "layer");
        let diff = dir.path.join("diff");
        fs::create_dir(&dir.path)
            .and_then(|()| fs::create_dir(&diff))
            .map_err(io_err(&dir.path))?;
        let u = unpack::unpack_layer(io::BufReader::new(f), &diff).map_err(|source| {
            ImageError::Layer {
                member: member.clone(),
                source,
            }
        })?;
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let config_json = json!({
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", u.diff_hex)]},
            "history": [{"created": created, "created_by": "nsbox import"}],
        });
        let config_bytes =
            serde_json::to_vec(&config_json).map_err(|e| ImageError::Other(e.to_string()))?;
        let config: ImageConfiguration =
            serde_json::from_slice(&config_bytes).map_err(|source| ImageError::Corrupt {
                path: "import config".into(),
                source,
            })?;
        let plan = ImagePlan {
            config_hex: digest::sha256_hex(&config_bytes),
            config_bytes,
            config,
            manifest: None,
            layers: vec![LayerPlan {
                member,
                blob_hex: None,
                diff_hex: u.diff_hex.clone(),
            }],
            tags: vec![tag],
        };
        let mut staged = Batch::default();
        if !self.layer_present(&u.diff_hex) {
            staged
                .layers
                .insert(u.diff_hex.clone(), Staged { dir, size: u.size });
        }
        staged.layer_blobs.push(vec![blob_hex.clone()]);
        staged.blobs.insert(blob_hex, blob);
        let mut recs = self.commit(&[plan], staged)?;
        recs.pop()
            .ok_or_else(|| ImageError::Other("import produced no image".into()))
    }

    fn layer_present(&self, hex: &str) -> bool {
        self.root.layer_dir(hex).join("diff").is_dir()
    }

    /// Unpack one layer into a temp dir and verify its digests.
    fn stage_layer(&self, reader: impl io::Read, layer: &LayerPlan) -> Result<Staged, ImageError> {
        let dir = TempPath::new(&self.root.tmp(), "layer");
        let diff = dir.path.join("diff");
        fs::create_dir(&dir.path)
            .and_then(|()| fs::create_dir(&diff))
            .map_err(io_err(&dir.path))?;
        let u = unpack::unpack_layer(reader, &diff).map_err(|source| ImageError::Layer {
            member: layer.member.clone(),
            source,
        })?;
        if let Some(blob) = &layer.blob_hex {
            digest::check(&layer.member, blob, &u.blob_hex)?;
        }
        digest::check(
            &format!("diff_id of {}", layer.member),
            &layer.diff_hex,
            &u.diff_hex,
        )?;
        Ok(Staged { dir, size: u.size })
    }

    fn layer_size(&self, hex: &str) -> u64 {
        let p = self.layers_meta().join(format!("{hex}.json"));
        fs::read(&p)
            .ok()
            .and_then(|d| serde_json::from_slice::<Value>(&d).ok())
            .and_then(|v| v.get("size").and_then(Value::as_u64))
            .unwrap_or_else(|| dir_size(&self.root.layer_dir(hex).join("diff")))
    }

    fn write_blob(&self, hex: &str, data: &[u8]) -> Result<(), ImageError> {
        let p = self.blobs().join(hex);
        if p.is_file() {
            return Ok(());
        }
        self.write_atomic(&p, data)
    }

    /// Under the lock: move staged layers into place, then write blobs, records and tags.
    fn commit(&self, plans: &[ImagePlan], staged: Batch) -> Result<Vec<ImageRecord>, ImageError> {
        let _lock = self.lock()?;
        crash_point("commit-locked");
        for (hex, mut t) in staged.blobs {
            let dest = self.blobs().join(&hex);
            if !dest.is_file() {
                fs::rename(&t.path, &dest).map_err(io_err(&dest))?;
                t.keep();
            }
        }
        crash_point("blobs-moved");
        for (hex, mut s) in staged.layers {
            let dest = self.root.layer_dir(&hex);
            if dest.exists() {
                continue; // someone else committed it meanwhile; ours is dropped
            }
            fs::rename(&s.dir.path, &dest).map_err(io_err(&dest))?;
            s.dir.keep();
            let meta =
                serde_json::to_vec(&json!({"diff_id": format!("sha256:{hex}"), "size": s.size}))
                    .map_err(|e| ImageError::Other(e.to_string()))?;
            self.write_atomic(&self.layers_meta().join(format!("{hex}.json")), &meta)?;
        }
        crash_point("layers-moved");
        let mut tags = self.read_tags()?;
        let mut ids = Vec::new();
        for (n, plan) in plans.iter().enumerate() {
            for l in &plan.layers {
                if !self.layer_present(&l.diff_hex) {
                    return Err(ImageError::LayerMissing(format!("sha256:{}", l.diff_hex)));
                }
            }
            // A blob found in the store before the lock was taken may have been pruned
            // since: a record is only written when everything it names is there.
            for b in staged.layer_blobs.get(n).into_iter().flatten() {
                if !self.blob_present(b) {
                    return Err(ImageError::Other(format!(
                        "layer blob sha256:{b} went missing from the store while loading: try again"
                    )));
                }
            }
            self.write_blob(&plan.config_hex, &plan.config_bytes)?;
            if let Some((hex, data)) = &plan.manifest {
                self.write_blob(hex, data)?;
            }
            let layer_sizes: Vec<u64> = plan
                .layers
                .iter()
                .map(|l| self.layer_size(&l.diff_hex))
                .collect();
            let rec = ImageRecord {
                id: format!("sha256:{}", plan.config_hex),
                repo_tags: Vec::new(),
                diff_ids: plan
                    .layers
                    .iter()
                    .map(|l| format!("sha256:{}", l.diff_hex))
                    .collect(),
                created: plan.config.created().clone(),
                size: layer_sizes.iter().sum(),
                layer_sizes,
                manifest: plan.manifest.as_ref().map(|(h, _)| format!("sha256:{h}")),
                layer_blobs: staged
                    .layer_blobs
                    .get(n)
                    .map(|v| v.iter().map(|h| format!("sha256:{h}")).collect())
                    .unwrap_or_default(),
            };
            // The same image loaded again from a docker-save tar keeps the manifest it had.
            let rec = match (&rec.manifest, self.read_record(&plan.config_hex, &tags)) {
                (None, Ok(old)) => ImageRecord {
                    manifest: old.manifest,
                    ..rec
                },
                _ => rec,
            };
            let data =
                serde_json::to_vec_pretty(&rec).map_err(|e| ImageError::Other(e.to_string()))?;
            self.write_atomic(&self.db().join(format!("{}.json", plan.config_hex)), &data)?;
            crash_point("record-written");
            for t in &plan.tags {
                tags.insert(t.clone(), rec.id.clone());
            }
            ids.push(plan.config_hex.clone());
        }
        self.write_tags(&tags)?;
        // Report the tags this load set (docker load prints those, not older ones).
        let mut out = Vec::new();
        for (h, plan) in ids.iter().zip(plans) {
            out.push(ImageRecord {
                repo_tags: plan.tags.clone(),
                ..self.read_record(h, &tags)?
            });
        }
        Ok(out)
    }

    /// Whether a container's files under `<root>/containers/*/` mention this image id.
    /// A seam: the container code may replace this with a proper state lookup.
    fn used_by_container(&self, id: &str) -> bool {
        let Ok(dirs) = fs::read_dir(self.root.containers()) else {
            return false;
        };
        dirs.flatten().any(|d| {
            ["container.json", "config.json", "state.json"]
                .iter()
                .any(|f| fs::read_to_string(d.path().join(f)).is_ok_and(|s| s.contains(id)))
        })
    }

    /// `docker rmi`: untag; when no tag is left, delete the image and whatever only it used.
    pub fn remove(&self, reference: &str, force: bool) -> Result<Vec<Removed>, ImageError> {
        let _lock = self.lock()?;
        let mut tags = self.read_tags()?;
        let mut out = Vec::new();
        let by_tag = normalize(reference).filter(|n| tags.contains_key(n));
        let id = match &by_tag {
            Some(n) => tags[n].clone(),
            None => self.resolve(reference)?.id,
        };
        let own_tags: Vec<String> = tags
            .iter()
            .filter(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())
            .collect();
        let untag: Vec<String> = match &by_tag {
            Some(n) => vec![n.clone()],
            None if own_tags.len() > 1 && !force => {
                return Err(ImageError::MultipleTags(short(&id).to_string()));
            }
            None => own_tags.clone(),
        };
        let delete = untag.len() == own_tags.len();
        let in_use = delete && self.used_by_container(&id);
        if in_use && !force {
            return Err(ImageError::InUse(reference.to_string()));
        }
        for t in &untag {
            tags.remove(t);
            out.push(Removed::Untagged(t.clone()));
        }
        self.write_tags(&tags)?;
        // In use and forced: untag only, as Docker does; the layers stay for the container.
        if delete && !in_use {
            self.delete_record(&id)?;
            out.push(Removed::Deleted(id));
        }
        Ok(out)
    }

    /// Remove a record, then the blobs and layer dirs no other record uses.
    fn delete_record(&self, id: &str) -> Result<(), ImageError> {
        let hex = digest::parse(id)?.to_string();
        let tags = self.read_tags()?;
        let rec = self.read_record(&hex, &tags)?;
        let rec_path = self.db().join(format!("{hex}.json"));
        fs::remove_file(&rec_path).map_err(io_err(&rec_path))?;
        let others: Vec<ImageRecord> = self
            .record_hexes()?
            .iter()
            .filter_map(|h| self.read_record(h, &tags).ok())
            .collect();
        // Blobs: collect every one no remaining record names (also strays of a crashed load).
        let blobs = self.blobs();
        for e in fs::read_dir(&blobs).map_err(io_err(&blobs))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let digest = format!("sha256:{name}");
            let used = others.iter().any(|o| {
                o.hex() == name
                    || o.manifest.as_deref() == Some(&digest)
                    || o.layer_blobs.contains(&digest)
            });
            if !used {
                let _ = fs::remove_file(e.path());
            }
        }
        for d in &rec.diff_ids {
            if others.iter().any(|o| o.diff_ids.contains(d)) {
                continue;
            }
            let lhex = digest::parse(d)?;
            self.remove_layer_dir(lhex)?;
            let _ = fs::remove_file(self.layers_meta().join(format!("{lhex}.json")));
        }
        Ok(())
    }

    /// Remove a layer dir. It is renamed into scratch first: a remover killed mid-way
    /// leaves a scratch entry the sweeper removes, never a half-removed layer under its
    /// real name that a later load would take for whole.
    fn remove_layer_dir(&self, hex: &str) -> Result<(), ImageError> {
        let dir = self.root.layer_dir(hex);
        let gone = TempPath::new(&self.root.tmp(), "rm-layer");
        match fs::rename(&dir, &gone.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&dir)(e)),
        }
        // `gone` is dropped here: the tree is removed.
    }

    /// `docker image prune`: remove the dangling (untagged) images, or with `all` every
    /// image, that no container uses (`in_use`: image ids) and `select` accepts; then
    /// reclaim every blob and layer dir no image references (`keep_layers`: diff_id hexes
    /// of layers containers mount). Returns what was removed and the bytes freed.
    pub fn prune(
        &self,
        all: bool,
        in_use: &HashSet<String>,
        keep_layers: &HashSet<String>,
        select: &dyn Fn(&ImageRecord) -> bool,
    ) -> Result<Pruned, ImageError> {
        let _lock = self.lock()?;
        let mut tags = self.read_tags()?;
        let mut out = Pruned::default();
        let mut doomed = Vec::new();
        for rec in self.list()? {
            if !(all || rec.repo_tags.is_empty()) || in_use.contains(&rec.id) || !select(&rec) {
                continue;
            }
            for t in &rec.repo_tags {
                tags.remove(t);
                out.removed.push(Removed::Untagged(t.clone()));
            }
            doomed.push(rec);
        }
        // Tags go first: a prune killed here leaves untagged images, which the next takes.
        self.write_tags(&tags)?;
        for rec in doomed {
            let p = self.db().join(format!("{}.json", rec.hex()));
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&p)(e)),
            }
            out.removed.push(Removed::Deleted(rec.id));
        }
        out.reclaimed = self.collect_garbage(keep_layers)?;
        Ok(out)
    }

    /// With the lock held: remove the blobs, layer dirs, layer sizes and short links no
    /// image references, and what killed writers left in the store's dirs. Returns the
    /// unpacked size of the layers removed. Nothing is removed if any record is unreadable
    /// (its references would be unknown).
    fn collect_garbage(&self, keep_layers: &HashSet<String>) -> Result<u64, ImageError> {
        let tags = self.read_tags()?;
        let mut blobs_used = HashSet::new();
        let mut layers_used = keep_layers.clone();
        for hex in self.record_hexes()? {
            let rec = match self.read_record(&hex, &tags) {
                Ok(r) => r,
                Err(ImageError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            blobs_used.insert(rec.hex().to_string());
            for d in rec.manifest.iter().chain(&rec.layer_blobs) {
                blobs_used.insert(digest::parse(d)?.to_string());
            }
            for d in &rec.diff_ids {
                layers_used.insert(digest::parse(d)?.to_string());
            }
        }
        for d in [
            self.root.images(),
            self.db(),
            self.blobs(),
            self.layers_meta(),
        ] {
            crate::scratch::sweep(&d);
        }
        let unused = |dir: &Path, used: &HashSet<String>| -> Vec<String> {
            fs::read_dir(dir)
                .map(|rd| {
                    rd.flatten()
                        .filter_map(|e| e.file_name().to_str().map(String::from))
                        .filter(|n| digest::is_hex64(n) && !used.contains(n))
                        .collect()
                })
                .unwrap_or_default()
        };
        for hex in unused(&self.blobs(), &blobs_used) {
            let p = self.blobs().join(&hex);
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&p)(e)),
            }
        }
        let mut reclaimed = 0;
        for hex in unused(&self.root.overlay(), &layers_used) {
            let size = self.layer_size(&hex);
            self.remove_layer_dir(&hex)?;
            reclaimed += size;
        }
        let meta = self.layers_meta();
        for e in fs::read_dir(&meta).map_err(io_err(&meta))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(hex) = name.strip_suffix(".json") {
                if digest::is_hex64(hex) && !self.layer_present(hex) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        // Short links of layers that are gone (made by storage::overlay at mount time).
        if let Ok(rd) = fs::read_dir(self.root.overlay().join("l")) {
            for e in rd.flatten() {
                let p = e.path();
                if fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink())
                    && fs::metadata(&p).is_err()
                {
                    let _ = fs::remove_file(&p);
                }
            }
        }
        Ok(reclaimed)
    }

    /// Unpacked size of each layer dir in the store, by diff_id hex.
    pub fn layer_sizes(&self) -> Result<HashMap<String, u64>, ImageError> {
        let tags = self.read_tags()?;
        let mut out = HashMap::new();
        for hex in self.record_hexes()? {
            let Ok(rec) = self.read_record(&hex, &tags) else {
                continue;
            };
            for (i, d) in rec.diff_ids.iter().enumerate() {
                let h = digest::parse(d)?.to_string();
                let size = rec
                    .layer_sizes
                    .get(i)
                    .copied()
                    .unwrap_or_else(|| self.layer_size(&h));
                out.insert(h, size);
            }
        }
        Ok(out)
    }

    /// One element of `docker image inspect`'s array.
    pub fn inspect_json(&self, img: &ImageRecord) -> Result<Value, ImageError> {
        let data = self.config_bytes(img)?;
        let cfg: Value = serde_json::from_slice(&data).map_err(|source| ImageError::Corrupt {
            path: img.id.clone(),
            source,
        })?;
        let c = cfg.get("config").cloned().unwrap_or(Value::Null);
        let field = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
        Ok(json!({
            "Id": img.id,
            "RepoTags": img.repo_tags,
            "RepoDigests": [],
            "Created": img.created,
            "Architecture": cfg.get("architecture").cloned().unwrap_or(Value::Null),
            "Os": cfg.get("os").cloned().unwrap_or(Value::Null),
            "Config": {
                "User": c.get("User").cloned().unwrap_or(json!("")),
                "Env": field("Env"),
                "Cmd": field("Cmd"),
                "Entrypoint": field("Entrypoint"),
                "WorkingDir": c.get("WorkingDir").cloned().unwrap_or(json!("")),
                "Labels": field("Labels"),
                "ExposedPorts": field("ExposedPorts"),
                "Volumes": field("Volumes"),
                "StopSignal": field("StopSignal"),
            },
            "RootFS": {"Type": "layers", "Layers": img.diff_ids},
            "Size": img.size,
        }))
    }
}

/// Test hook: with `NSBOX_TEST_CRASH_AT=<point>` the process SIGKILLs itself at that point
/// of a load or commit (layer-staged, commit-locked, blobs-moved, layers-moved,
/// record-written), so tests can check what a kill -9 there leaves behind.
fn crash_point(point: &str) {
    if std::env::var_os("NSBOX_TEST_CRASH_AT").is_some_and(|v| v == point) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// The 12-hex short form of an id.
pub fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Sum of regular file sizes below `dir`, not following symlinks.
fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(normalize("busybox").as_deref(), Some("busybox:latest"));
        assert_eq!(normalize("busybox:1.36").as_deref(), Some("busybox:1.36"));
        assert_eq!(
            normalize("docker.io/library/busybox:latest").as_deref(),
            Some("busybox:latest")
        );
        assert_eq!(
            normalize("docker.io/foo/bar").as_deref(),
            Some("foo/bar:latest")
        );
        assert_eq!(
            normalize("localhost:5000/foo").as_deref(),
            Some("localhost:5000/foo:latest")
        );
        assert_eq!(normalize("Busybox"), None);
        assert_eq!(normalize("busybox@sha256:abc"), None);
        assert_eq!(normalize("busy box"), None);
        assert_eq!(normalize(""), None);
        assert_eq!(normalize("a:"), None);
    }

    #[test]
    fn short_ids() {
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short("abc"), "abc");
    }
}
