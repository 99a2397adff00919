//! Reading image archives: format detection, then the OCI layout (dir or tar) or `docker save`
//! metadata, turned into plans the store executes. Nothing here writes to the store.
//!
//! A tar archive is indexed once (name → offset, size) and read in place: blobs are streamed
//! from the archive, never extracted wholesale.

use super::digest::{self, DigestError};
use super::unpack::{self, Compression};
use oci_spec::image::ImageConfiguration;
use serde::Deserialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// JSON metadata (index, manifest, config) larger than this is refused.
const MAX_JSON: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("open {path}: {source}")]
    Open { path: String, source: io::Error },
    /// The io::Error is described, never shown: the tar and gzip readers quote input bytes.
    #[error("read archive {path}: {}", unpack::describe_read(.err))]
    Archive { path: String, err: io::Error },
    #[error("{0}: not a tar archive, nor a gzip-compressed one, nor an OCI layout directory")]
    NotTar(String),
    #[error("{0:?}: not found in the archive")]
    Missing(String),
    #[error("no manifest.json or index.json: not an image archive or OCI layout")]
    NotAnImage,
    /// serde_json's messages may quote the input's strings: only where and what kind.
    #[error("parse {what}: {}", describe_json(.err))]
    Json {
        what: String,
        err: serde_json::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Digest(#[from] DigestError),
}

/// Where the archive's files come from.
pub enum Source {
    Dir(PathBuf),
    /// A tar read in place: name → (data offset, size).
    Tar {
        path: PathBuf,
        index: HashMap<String, (u64, u64)>,
    },
}

/// Archive member names as clean relative paths ("./a//b" → "a/b"); `None` if they escape.
fn clean(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    if name.starts_with('/') || parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

impl Source {
    /// A directory is an OCI layout; a file is a (possibly gzip-compressed) tar. A compressed
    /// archive is first decompressed to `scratch` (the caller's temp file, removed by it).
    pub fn open(path: &Path, scratch: &Path) -> Result<Source, LoadError> {
        let open_err = |source| LoadError::Open {
            path: path.display().to_string(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(open_err)?;
        if meta.is_dir() {
            return Ok(Source::Dir(path.to_path_buf()));
        }
        let mut f = File::open(path).map_err(open_err)?;
        let mut head = [0u8; 4];
        let n = f.read(&mut head).map_err(open_err)?;
        let tar_path = match unpack::detect(&head[..n]) {
            Compression::Gzip => {
                let arch_err = |err| LoadError::Archive {
                    path: path.display().to_string(),
                    err,
                };
                f.seek(SeekFrom::Start(0)).map_err(arch_err)?;
                let mut out = File::create(scratch).map_err(arch_err)?;
                io::copy(&mut flate2::read::MultiGzDecoder::new(f), &mut out).map_err(arch_err)?;
                scratch.to_path_buf()
            }
            Compression::Zstd => {
                return Err(LoadError::Invalid(
                    "zstd-compressed archives are not supported".into(),
                ))
            }
            Compression::None => path.to_path_buf(),
        };
        Ok(Source::Tar {
            index: index_tar(&tar_path)?,
            path: tar_path,
        })
    }

    fn exists(&self, name: &str) -> bool {
        match self {
            Source::Dir(d) => clean(name).is_some_and(|n| d.join(n).is_file()),
            Source::Tar { index, .. } => clean(name).is_some_and(|n| index.contains_key(&n)),
        }
    }

    /// A reader over one member of the archive.
    pub fn open_member(&self, name: &str) -> Result<Box<dyn Read + Send + '_>, LoadError> {
        let clean_name = clean(name).ok_or_else(|| LoadError::Missing(name.to_string()))?;
        match self {
            Source::Dir(d) => {
                let p = d.join(&clean_name);
                // A layout dir is trusted no more than an archive: no symlinks out of it.
                let m = std::fs::symlink_metadata(&p)
                    .map_err(|_| LoadError::Missing(name.to_string()))?;
                if !m.is_file() {
                    return Err(LoadError::Missing(name.to_string()));
                }
                let f = File::open(&p).map_err(|source| LoadError::Open {
                    path: p.display().to_string(),
                    source,
                })?;
                Ok(Box::new(f))
            }
            Source::Tar { path, index } => {
                let &(pos, size) = index
                    .get(&clean_name)
                    .ok_or_else(|| LoadError::Missing(name.to_string()))?;
                let arch_err = |err| LoadError::Archive {
                    path: path.display().to_string(),
                    err,
                };
                let mut f = File::open(path).map_err(arch_err)?;
                f.seek(SeekFrom::Start(pos)).map_err(arch_err)?;
                Ok(Box::new(f.take(size)))
            }
        }
    }

    /// A small member (JSON), whole.
    fn read_json_bytes(&self, name: &str) -> Result<Vec<u8>, LoadError> {
        let mut buf = Vec::new();
        self.open_member(name)?
            .take(MAX_JSON + 1)
            .read_to_end(&mut buf)
            .map_err(|err| LoadError::Archive {
                path: name.to_string(),
                err,
            })?;
        if buf.len() as u64 > MAX_JSON {
            return Err(LoadError::Invalid(format!("{name}: too large")));
        }
        Ok(buf)
    }

    /// A blob by digest, verified.
    fn read_blob(&self, digest_str: &str) -> Result<(String, Vec<u8>), LoadError> {
        let hex = digest::parse(digest_str)?;
        let data = self.read_json_bytes(&format!("blobs/sha256/{hex}"))?;
        digest::check(digest_str, hex, &digest::sha256_hex(&data))?;
        Ok((hex.to_string(), data))
    }
}

/// Index a tar: regular members by offset; symlinks and hardlinks resolved to their target.
fn index_tar(path: &Path) -> Result<HashMap<String, (u64, u64)>, LoadError> {
    let arch_err = |err| LoadError::Archive {
        path: path.display().to_string(),
        err,
    };
    let f = File::open(path).map_err(arch_err)?;
    let mut archive = tar::Archive::new(io::BufReader::new(f));
    let mut index = HashMap::new();
    let mut links: Vec<(String, String)> = Vec::new();
    let not_tar = || LoadError::NotTar(path.display().to_string());
    let mut first = true;
    for entry in archive.entries().map_err(|_| not_tar())? {
        // A first header that does not parse: the file is no tar at all.
        let entry = match entry {
            Ok(e) => e,
            Err(_) if first => return Err(not_tar()),
            Err(e) => return Err(arch_err(e)),
        };
        first = false;
        let raw = entry.path_bytes();
        let Some(name) = clean(&String::from_utf8_lossy(&raw)) else {
            continue;
        };
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                index.insert(name, (entry.raw_file_position(), entry.size()));
            }
            kind @ (tar::EntryType::Symlink | tar::EntryType::Link) => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned());
                let Some(target) = target else { continue };
                // Docker dedupes identical layers with relative symlinks; hardlinks are archive-rooted.
                let full = if kind == tar::EntryType::Symlink {
                    let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    format!("{dir}/{target}")
                } else {
                    target
                };
                if let Some(t) = clean(&full) {
                    links.push((name, t));
                }
            }
            _ => {}
        }
    }
    for (name, target) in links {
        if let Some(&v) = index.get(&target) {
            index.insert(name, v);
        }
    }
    Ok(index)
}

/// One layer to unpack.
#[derive(Debug, Clone)]
pub struct LayerPlan {
    /// Member name in the source.
    pub member: String,
    /// Expected sha256 hex of the member as stored (OCI blobs), if known.
    pub blob_hex: Option<String>,
    /// Expected diff_id hex (from the config).
    pub diff_hex: String,
}

/// One image found in the archive.
#[derive(Debug)]
pub struct ImagePlan {
    pub config_hex: String,
    pub config_bytes: Vec<u8>,
    pub config: ImageConfiguration,
    /// (hex, bytes) of the OCI manifest, kept as a blob.
    pub manifest: Option<(String, Vec<u8>)>,
    pub layers: Vec<LayerPlan>,
    /// Normalised "name:tag" references.
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct DockerEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

fn parse<'a, T: Deserialize<'a>>(what: &str, data: &'a [u8]) -> Result<T, LoadError> {
    serde_json::from_slice(data).map_err(|err| LoadError::Json {
        what: what.to_string(),
        err,
    })
}

/// A JSON error by kind and place, without the input's text.
fn describe_json(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "read error",
        Category::Syntax => "not valid JSON",
        Category::Data => "not the expected structure",
        Category::Eof => "unexpected end of JSON",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// Find the images in a source. `manifest.json` wins over `index.json`, as in docker load.
pub fn plans(src: &Source) -> Result<Vec<ImagePlan>, LoadError> {
    if src.exists("manifest.json") {
        docker_plans(src)
    } else if src.exists("index.json") {
        oci_plans(src)
    } else {
        Err(LoadError::NotAnImage)
    }
}

fn docker_plans(src: &Source) -> Result<Vec<ImagePlan>, LoadError> {
    let entries: Vec<DockerEntry> = parse("manifest.json", &src.read_json_bytes("manifest.json")?)?;
    let mut out = Vec::new();
    for e in entries {
        let config_bytes = src.read_json_bytes(&e.config)?;
        let config_hex = digest::sha256_hex(&config_bytes);
        // The config's name is its digest ("<hex>.json" or "blobs/sha256/<hex>"): check it.
        if let Some(named) = hex_in_name(&e.config) {
            digest::check(&e.config, &named, &config_hex)?;
        }
        let config: ImageConfiguration = parse(&e.config, &config_bytes)?;
        let diff_ids = diff_hexes(&config)?;
        if diff_ids.len() != e.layers.len() {
            return Err(LoadError::Invalid(format!(
                "{}: {} layers but {} diff_ids",
                e.config,
                e.layers.len(),
                diff_ids.len()
            )));
        }
        let layers = e
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(member, diff_hex)| LayerPlan {
                blob_hex: member
                    .strip_prefix("blobs/sha256/")
                    .filter(|h| digest::is_hex64(h))
                    .map(String::from),
                member: member.clone(),
                diff_hex,
            })
            .collect();
        let tags = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .filter_map(|t| super::store::normalize(t))
            .collect();
        out.push(ImagePlan {
            config_hex,
            config_bytes,
            config,
            manifest: None,
            layers,
            tags,
        });
    }
    Ok(out)
}

fn hex_in_name(name: &str) -> Option<String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let base = base.strip_suffix(".json").unwrap_or(base);
    digest::is_hex64(base).then(|| base.to_string())
}

fn diff_hexes(config: &ImageConfiguration) -> Result<Vec<String>, LoadError> {
    config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| Ok(digest::parse(d)?.to_string()))
        .collect()
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn oci_plans(src: &Source) -> Result<Vec<ImagePlan>, LoadError> {
    let index: Index = parse("index.json", &src.read_json_bytes("index.json")?)?;
    if index.manifests.is_empty() {
        return Err(LoadError::Invalid("index.json lists no manifests".into()));
    }
    let mut out = Vec::new();
    for desc in &index.manifests {
        let tags = tags_of(desc);
        let mut desc_digest = desc.digest.clone();
        let mut media_type = desc.media_type.clone();
        // A nested index (multi-platform): take linux/amd64, else the only/first entry.
        for _ in 0..2 {
            if !INDEX_TYPES.contains(&media_type.as_str()) {
                break;
            }
            let (_, data) = src.read_blob(&desc_digest)?;
            let nested: Index = parse(&desc_digest, &data)?;
            let pick = nested
                .manifests
                .iter()
                .find(|d| {
                    d.platform
                        .as_ref()
                        .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
                })
                .or(nested.manifests.first())
                .ok_or_else(|| LoadError::Invalid(format!("{desc_digest}: empty index")))?;
            desc_digest = pick.digest.clone();
            media_type = pick.media_type.clone();
        }
        let (manifest_hex, manifest_bytes) = src.read_blob(&desc_digest)?;
        let manifest: Manifest = parse(&desc_digest, &manifest_bytes)?;
        let (config_hex, config_bytes) = src.read_blob(&manifest.config.digest)?;
        let config: ImageConfiguration = parse(&manifest.config.digest, &config_bytes)?;
        let diff_ids = diff_hexes(&config)?;
        if diff_ids.len() != manifest.layers.len() {
            return Err(LoadError::Invalid(format!(
                "{desc_digest}: {} layers but {} diff_ids",
                manifest.layers.len(),
                diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        for (l, diff_hex) in manifest.layers.iter().zip(diff_ids) {
            let hex = digest::parse(&l.digest)?.to_string();
            layers.push(LayerPlan {
                member: format!("blobs/sha256/{hex}"),
                blob_hex: Some(hex),
                diff_hex,
            });
        }
        out.push(ImagePlan {
            config_hex,
            config_bytes,
            config,
            manifest: Some((manifest_hex, manifest_bytes)),
            layers,
            tags,
        });
    }
    Ok(out)
}

/// The name an OCI index entry carries: containerd's full name, else a ref.name that is a
/// full reference ("busybox:latest"); a bare tag ("latest") names no repository.
fn tags_of(desc: &Descriptor) -> Vec<String> {
    let full = desc
        .annotations
        .get("io.containerd.image.name")
        .cloned()
        .or_else(|| {
            desc.annotations
                .get("org.opencontainers.image.ref.name")
                .filter(|r| r.contains(':') || r.contains('/'))
                .cloned()
        });
    full.and_then(|r| super::store::normalize(&r))
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_names() {
        assert_eq!(clean("./a//b").as_deref(), Some("a/b"));
        assert_eq!(clean("a/../b").as_deref(), Some("b"));
        assert_eq!(clean("../b"), None);
        assert_eq!(clean("/etc/passwd"), None);
    }

    #[test]
    fn config_name_digest() {
        let h = "a".repeat(64);
        assert_eq!(hex_in_name(&format!("{h}.json")), Some(h.clone()));
        assert_eq!(hex_in_name(&format!("blobs/sha256/{h}")), Some(h));
        assert_eq!(hex_in_name("config.json"), None);
    }
}
