//! Placeholder: the image helper replaces this file.
use crate::dataroot::DataRoot;
use oci_spec::image::ImageConfiguration;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("No such image: {0}")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

/// One image as the store knows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ImageRecord {
    /// "sha256:<hex>" of the config blob (Docker's image id).
    pub id: String,
    /// "name:tag" references pointing at this image.
    pub repo_tags: Vec<String>,
    /// Layer diff_ids ("sha256:<hex>"), bottom first.
    pub diff_ids: Vec<String>,
    /// RFC 3339 creation time from the image config, if any.
    pub created: Option<String>,
    /// Total unpacked size in bytes.
    pub size: u64,
}

pub struct ImageStore {
    #[allow(dead_code)]
    root: DataRoot,
}

impl ImageStore {
    pub fn open(root: &DataRoot) -> Result<Self, ImageError> {
        Ok(ImageStore { root: root.clone() })
    }
    pub fn load(&self, _path: &Path, _progress: bool) -> Result<Vec<ImageRecord>, ImageError> {
        Err(ImageError::Other("not implemented".into()))
    }
    pub fn resolve(&self, reference: &str) -> Result<ImageRecord, ImageError> {
        Err(ImageError::NotFound(reference.into()))
    }
    pub fn config(&self, _img: &ImageRecord) -> Result<ImageConfiguration, ImageError> {
        Err(ImageError::Other("not implemented".into()))
    }
    pub fn layer_dirs(&self, _img: &ImageRecord) -> Result<Vec<PathBuf>, ImageError> {
        Err(ImageError::Other("not implemented".into()))
    }
}
