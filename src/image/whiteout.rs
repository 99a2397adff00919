//! OCI whiteouts → overlayfs whiteouts.
//!
//! OCI marks a deleted `NAME` with an empty file `.wh.NAME`, and a directory whose lower
//! contents are hidden with `.wh..wh..opq` inside it. overlayfs wants a 0/0 character device
//! named `NAME`, and the xattr `trusted.overlay.opaque=y` on the directory.

use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub const PREFIX: &str = ".wh.";
pub const OPAQUE: &str = ".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

#[derive(Debug, thiserror::Error)]
pub enum WhiteoutError {
    #[error("invalid whiteout name {0:?}")]
    BadName(String),
    #[error("create whiteout {path}: {source}")]
    Mknod { path: String, source: nix::Error },
    #[error("mark {path} opaque: {source}")]
    Xattr {
        path: String,
        source: std::io::Error,
    },
}

/// What a file name means to the whiteout rules.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind<'a> {
    /// An ordinary name.
    None,
    /// `.wh..wh..opq`: the containing directory is opaque.
    Opaque,
    /// `.wh.NAME`: NAME is deleted.
    Delete(&'a str),
}

/// Classify a final path component. The opaque marker is matched before the generic prefix,
/// since it also starts with `.wh.`.
pub fn classify(name: &str) -> Result<Kind<'_>, WhiteoutError> {
    if name == OPAQUE {
        return Ok(Kind::Opaque);
    }
    match name.strip_prefix(PREFIX) {
        None => Ok(Kind::None),
        // `.wh.`, `.wh..`, `.wh...` or another `.wh.` meta name would point outside the dir.
        Some(rest)
            if rest.is_empty() || rest == "." || rest == ".." || rest.starts_with(PREFIX) =>
        {
            Err(WhiteoutError::BadName(name.to_string()))
        }
        Some(rest) => Ok(Kind::Delete(rest)),
    }
}

/// Make `path` an overlay whiteout: a character device 0/0. The caller removed what was there.
pub fn make_whiteout(path: &Path) -> Result<(), WhiteoutError> {
    mknod(path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)).map_err(|source| {
        WhiteoutError::Mknod {
            path: path.display().to_string(),
            source,
        }
    })
}

/// Mark the directory `dir` opaque for overlayfs.
pub fn make_opaque(dir: &Path) -> Result<(), WhiteoutError> {
    lsetxattr(dir, OPAQUE_XATTR, b"y").map_err(|source| WhiteoutError::Xattr {
        path: dir.display().to_string(),
        source,
    })
}

/// Set an xattr on `path` itself, never following a symlink.
pub fn lsetxattr(path: &Path, name: &str, value: &[u8]) -> std::io::Result<()> {
    let p = CString::new(path.as_os_str().as_bytes())?;
    let n = CString::new(name)?;
    // SAFETY: both pointers are valid NUL-terminated strings, value is a live slice of the
    // given length; lsetxattr does not retain any of them.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Read an xattr of `path` itself (tests and inspection).
#[allow(dead_code)]
pub fn lgetxattr(path: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_bytes())?;
    let n = CString::new(name)?;
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings; buf is writable for buf.len() bytes.
    let rc = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(rc as usize);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_names() {
        assert_eq!(classify("motd").unwrap(), Kind::None);
        assert_eq!(classify(".wh..wh..opq").unwrap(), Kind::Opaque);
        assert_eq!(classify(".wh.motd").unwrap(), Kind::Delete("motd"));
        assert_eq!(classify(".wh..hidden").unwrap(), Kind::Delete(".hidden"));
        assert!(classify(".wh.").is_err());
        assert!(classify(".wh...").is_err());
        assert!(classify(".wh..wh.foo").is_err());
    }
}
