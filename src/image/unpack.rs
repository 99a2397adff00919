//! Safe layer extraction: one tar entry at a time, never following a symlink, never leaving
//! the destination directory.
//!
//! Rules: a path is relative to the layer root, as Docker, containerd and podman read it (a
//! leading `/` is dropped, `a/../b` is `b`); a path that climbs above the root is refused;
//! every parent component that exists must be a
//! real directory (not a symlink, not a file); an existing entry is unlinked before a new one
//! takes its name (so a regular file replaces a symlink instead of writing through it);
//! hardlink targets follow the same rules and must already exist in this layer. Whiteouts
//! become overlay whiteouts (see `whiteout`). `trusted.overlay.*` xattrs from the archive are
//! dropped: only the whiteout converter may set them.

use super::digest::HashingReader;
use super::whiteout::{self, Kind, WhiteoutError};
use flate2::bufread::MultiGzDecoder;
use nix::fcntl::AT_FDCWD;
use nix::sys::stat::{makedev, mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use tar::EntryType;

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// What went wrong reading the stream, described without any of its bytes (the tar
    /// crate's messages quote header fields: never shown).
    #[error("read layer: {}", describe_read(.0))]
    Read(io::Error),
    #[error("entry {0:?}: the layer ends inside its data (truncated)")]
    Truncated(String),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("refusing entry {0:?}: path leads out of the layer ('..' above its root)")]
    DotDot(String),
    #[error("refusing entry {0:?}: a parent is a symlink or not a directory")]
    ThroughLink(String),
    #[error("refusing hardlink {name:?} -> {target:?}: {why}")]
    BadHardlink {
        name: String,
        target: String,
        why: &'static str,
    },
    #[error("entry {name:?}: unsupported tar entry type {kind:?}")]
    Unsupported { name: String, kind: EntryType },
    #[error("zstd-compressed layers are not supported")]
    Zstd,
    #[error(transparent)]
    Whiteout(#[from] WhiteoutError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> UnpackError + '_ {
    move |source| UnpackError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn nix_err(path: &Path) -> impl FnOnce(nix::Error) -> UnpackError + '_ {
    move |e| UnpackError::Io {
        path: path.display().to_string(),
        source: e.into(),
    }
}

/// The compression of a layer stream, by magic bytes (media types lie).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// What unpacking one layer stream found.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// sha256 hex of the stream as given (the OCI blob digest).
    pub blob_hex: String,
    /// sha256 hex of the uncompressed tar (the diff_id).
    pub diff_hex: String,
    /// Sum of the regular file sizes.
    pub size: u64,
}

/// Unpack a gzip or plain tar layer stream into the existing empty directory `dest`.
/// The caller verifies the digests and removes `dest` on error.
pub fn unpack_layer<R: Read>(src: R, dest: &Path) -> Result<Unpacked, UnpackError> {
    let mut buffered = BufReader::with_capacity(1 << 16, HashingReader::new(src));
    let compression = detect(buffered.fill_buf().map_err(UnpackError::Read)?);
    let (buffered, diff_hex, size) = match compression {
        Compression::Gzip => {
            let (dec, diff, size) = extract(MultiGzDecoder::new(buffered), dest)?;
            (dec.into_inner(), diff, size)
        }
        Compression::None => extract(buffered, dest)?,
        Compression::Zstd => return Err(UnpackError::Zstd),
    };
    // Bytes still in the BufReader were hashed when they were read from below; drain the rest.
    let mut blob = buffered.into_inner();
    blob.drain().map_err(UnpackError::Read)?;
    let (_, blob_hex, _) = blob.finish();
    Ok(Unpacked {
        blob_hex,
        diff_hex,
        size,
    })
}

/// The blob digest and the diff_id of a layer stream, without extracting it: how a layer
/// that is already unpacked is checked when it comes again. A corrupt gzip stream fails.
pub fn digests<R: Read>(src: R) -> Result<(String, String), UnpackError> {
    let mut buffered = BufReader::with_capacity(1 << 16, HashingReader::new(src));
    let compression = detect(buffered.fill_buf().map_err(UnpackError::Read)?);
    let mut tar = match compression {
        Compression::Gzip => {
            HashingReader::new(Box::new(MultiGzDecoder::new(&mut buffered)) as Box<dyn Read + '_>)
        }
        Compression::None => HashingReader::new(Box::new(&mut buffered) as Box<dyn Read + '_>),
        Compression::Zstd => return Err(UnpackError::Zstd),
    };
    tar.drain().map_err(UnpackError::Read)?;
    let (_, diff_hex, _) = tar.finish();
    let mut blob = buffered.into_inner();
    blob.drain().map_err(UnpackError::Read)?;
    let (_, blob_hex, _) = blob.finish();
    Ok((blob_hex, diff_hex))
}

/// Extract a tar stream; returns the reader, the sha256 hex of the tar stream and the size.
fn extract<R: Read>(r: R, dest: &Path) -> Result<(R, String, u64), UnpackError> {
    let end = EndMark::default();
    let mut archive = tar::Archive::new(PadToBlock {
        inner: HashingReader::new(r),
        pos: 0,
        pad: 0,
        end: end.clone(),
    });
    let mut x = Extractor {
        dest: dest.to_path_buf(),
        size: 0,
        dirs: Vec::new(),
        end,
    };
    for entry in archive.entries().map_err(UnpackError::Read)? {
        let mut entry = entry.map_err(UnpackError::Read)?;
        x.entry(&mut entry)?;
    }
    x.finish()?;
    let mut hashing = archive.into_inner().inner;
    hashing.drain().map_err(UnpackError::Read)?;
    let (r, hex, _) = hashing.finish();
    Ok((r, hex, x.size))
}

/// A tar path as a clean path relative to the layer root: `None` for the root itself ("./",
/// "/"). A leading `/` is dropped and `..` removes the previous component, as Go's
/// `filepath.Clean` does for Docker; a `..` above the root is refused.
pub fn sanitize(raw: &[u8]) -> Result<Option<PathBuf>, UnpackError> {
    let shown = || String::from_utf8_lossy(raw).into_owned();
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    return Err(UnpackError::DotDot(shown()));
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(parts.iter().map(|c| OsStr::from_bytes(c)).collect()))
}

/// A read error in words that never quote the stream: OS errors as they are, the known
/// gzip messages, and a plain "corrupt" for everything the tar parser says.
pub fn describe_read(e: &io::Error) -> String {
    if e.raw_os_error().is_some() {
        return e.to_string();
    }
    let msg = e.to_string();
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "unexpected end of data (truncated)".into(),
        _ if [
            "corrupt deflate stream",
            "invalid gzip header",
            "incomplete deflate stream",
        ]
        .contains(&msg.as_str()) =>
        {
            format!("corrupt gzip data ({msg})")
        }
        _ if msg == "archive header checksum mismatch" => {
            "corrupt tar data (bad header checksum)".into()
        }
        _ => "corrupt tar data".into(),
    }
}

/// The end of the real stream, as seen by [`PadToBlock`]: set once it reached EOF.
type EndMark = std::rc::Rc<std::cell::Cell<Option<u64>>>;

/// Pads a tar stream that ends without its last block's padding (umoci writes such layers;
/// Go's archive/tar, hence Docker, containerd and podman, accept them) with zeros up to
/// the next 512-byte boundary. The bytes are hashed below this reader, so digests cover
/// only the real stream; the extractor checks that no entry's data lies in the padding.
struct PadToBlock<R> {
    inner: R,
    pos: u64,
    pad: u64,
    end: EndMark,
}

impl<R: Read> Read for PadToBlock<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.end.get().is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 || buf.is_empty() {
                self.pos += n as u64;
                return Ok(n);
            }
            self.end.set(Some(self.pos));
            self.pad = (512 - self.pos % 512) % 512;
        }
        let n = (self.pad as usize).min(buf.len());
        buf[..n].fill(0);
        self.pad -= n as u64;
        Ok(n)
    }
}

struct Extractor {
    dest: PathBuf,
    size: u64,
    /// Directories and their mtimes, set at the end (creating children changes them).
    dirs: Vec<(PathBuf, i64)>,
    /// Where the real stream ended, once it did (see [`PadToBlock`]).
    end: EndMark,
}

impl Extractor {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let Some(rel) = sanitize(&raw)? else {
            return Ok(()); // "./": the layer root is ours
        };
        let name = rel.file_name().unwrap_or_default().to_os_string();
        let parent = self.walk(rel.parent().unwrap_or(Path::new("")), true, &shown)?;
        match whiteout::classify(&name.to_string_lossy())? {
            Kind::Opaque => return Ok(whiteout::make_opaque(&parent)?),
            Kind::Delete(victim) => {
                let path = parent.join(victim);
                remove_existing(&path)?;
                return Ok(whiteout::make_whiteout(&path)?);
            }
            Kind::None => {}
        }
        let path = parent.join(&name);
        let header = entry.header().clone();
        let mode = header.mode().map_err(UnpackError::Read)? & 0o7777;
        let uid = header.uid().map_err(UnpackError::Read)?;
        let gid = header.gid().map_err(UnpackError::Read)?;
        let mtime = header.mtime().map_err(UnpackError::Read)? as i64;
        let xattrs = xattrs_of(entry)?;

        match kind {
            EntryType::Directory => {
                match fs::symlink_metadata(&path) {
                    Ok(m) if m.is_dir() => {}
                    _ => {
                        remove_existing(&path)?;
                        fs::create_dir(&path).map_err(io_err(&path))?;
                    }
                }
                self.dirs.push((path.clone(), mtime));
            }
            EntryType::Regular | EntryType::Continuous => {
                remove_existing(&path)?;
                // O_NOFOLLOW + O_EXCL: never open anything but the new file.
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(io_err(&path))?;
                let want = entry.size();
                let got = io::copy(entry, &mut f).map_err(UnpackError::Read)?;
                let data_end = entry.raw_file_position() + want;
                if got != want || self.end.get().is_some_and(|end| data_end > end) {
                    return Err(UnpackError::Truncated(shown));
                }
                self.size += got;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .ok_or_else(|| UnpackError::Read(io::Error::other("symlink without target")))?;
                remove_existing(&path)?;
                // The target is stored as is: a symlink is harmless as long as we never follow it.
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .map_err(io_err(&path))?;
            }
            EntryType::Link => {
                let target_raw = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let target = self.hardlink_source(&shown, &target_raw)?;
                if target == path {
                    return Ok(());
                }
                remove_existing(&path)?;
                fs::hard_link(&target, &path).map_err(io_err(&path))?;
                return Ok(()); // same inode: metadata came with the first name
            }
            EntryType::Char | EntryType::Block => {
                let major = header
                    .device_major()
                    .map_err(UnpackError::Read)?
                    .unwrap_or(0);
                let minor = header
                    .device_minor()
                    .map_err(UnpackError::Read)?
                    .unwrap_or(0);
                let sflag = if kind == EntryType::Char {
                    SFlag::S_IFCHR
                } else {
                    SFlag::S_IFBLK
                };
                remove_existing(&path)?;
                mknod(
                    &path,
                    sflag,
                    Mode::from_bits_truncate(mode),
                    makedev(major.into(), minor.into()),
                )
                .map_err(nix_err(&path))?;
            }
            EntryType::Fifo => {
                remove_existing(&path)?;
                nix::unistd::mkfifo(&path, Mode::from_bits_truncate(mode))
                    .map_err(nix_err(&path))?;
            }
            other => {
                return Err(UnpackError::Unsupported {
                    name: shown,
                    kind: other,
                })
            }
        }

        // chown before chmod: chown clears setuid/setgid bits.
        if let Err(e) = std::os::unix::fs::lchown(&path, Some(uid as u32), Some(gid as u32)) {
            if nix::unistd::geteuid().is_root() {
                return Err(io_err(&path)(e));
            }
        }
        for (k, v) in &xattrs {
            match whiteout::lsetxattr(&path, k, v) {
                Ok(()) => {}
                // Filesystems without xattrs, or security.* we may not set: Docker ignores these too.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EPERM)) => {}
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        if kind != EntryType::Symlink {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(io_err(&path))?;
        }
        if kind != EntryType::Directory {
            set_mtime(&path, mtime)?;
        }
        Ok(())
    }

    /// Walk `rel` below dest checking each component is a real directory (creating missing
    /// ones when `create`); returns the absolute path.
    fn walk(&self, rel: &Path, create: bool, shown: &str) -> Result<PathBuf, UnpackError> {
        let mut cur = self.dest.clone();
        for comp in rel.components() {
            let Component::Normal(c) = comp else {
                return Err(UnpackError::DotDot(shown.to_string()));
            };
            cur.push(c);
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(UnpackError::ThroughLink(shown.to_string())),
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    fs::create_dir(&cur).map_err(io_err(&cur))?;
                }
                Err(e) => return Err(io_err(&cur)(e)),
            }
        }
        Ok(cur)
    }

    /// The existing, in-layer, non-directory file a hardlink entry points at.
    fn hardlink_source(&self, name: &str, raw: &[u8]) -> Result<PathBuf, UnpackError> {
        let target = String::from_utf8_lossy(raw).into_owned();
        let bad = |why| UnpackError::BadHardlink {
            name: name.to_string(),
            target: target.clone(),
            why,
        };
        let rel = match sanitize(raw) {
            Ok(Some(rel)) => rel,
            Ok(None) => return Err(bad("empty target")),
            Err(_) => return Err(bad("target outside the layer")),
        };
        let parent = self
            .walk(rel.parent().unwrap_or(Path::new("")), false, name)
            .map_err(|_| bad("target not in this layer"))?;
        let path = parent.join(rel.file_name().unwrap_or_default());
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => Err(bad("target is a directory")),
            Ok(_) => Ok(path),
            Err(_) => Err(bad("target not in this layer")),
        }
    }

    fn finish(&mut self) -> Result<(), UnpackError> {
        // Deepest first, so setting a parent's mtime is the last change to it.
        for (dir, mtime) in self.dirs.iter().rev() {
            set_mtime(dir, *mtime)?;
        }
        Ok(())
    }
}

fn xattrs_of<R: Read>(
    entry: &mut tar::Entry<'_, R>,
) -> Result<Vec<(String, Vec<u8>)>, UnpackError> {
    let mut out = Vec::new();
    if let Some(exts) = entry.pax_extensions().map_err(UnpackError::Read)? {
        for ext in exts {
            let ext = ext.map_err(UnpackError::Read)?;
            let Ok(key) = ext.key() else { continue };
            if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                if !name.starts_with("trusted.overlay.") {
                    out.push((name.to_string(), ext.value_bytes().to_vec()));
                }
            }
        }
    }
    Ok(out)
}

/// Remove whatever is at `path` (without following it), if anything.
fn remove_existing(path: &Path) -> Result<(), UnpackError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(io_err(path)),
        Ok(_) => fs::remove_file(path).map_err(io_err(path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn set_mtime(path: &Path, mtime: i64) -> Result<(), UnpackError> {
    let t = TimeSpec::new(mtime, 0);
    utimensat(AT_FDCWD, path, &t, &t, UtimensatFlags::NoFollowSymlink).map_err(nix_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn header(kind: EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        h
    }

    /// (name, kind, link target, data)
    type RawEntry<'a> = (&'a str, EntryType, &'a str, &'a [u8]);

    /// A tar with raw (unchecked) names.
    fn raw_tar(entries: &[RawEntry<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, link, data) in entries {
            let mut h = header(*kind, data.len() as u64);
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn unpack(tar: &[u8]) -> (tempfile::TempDir, Result<Unpacked, UnpackError>) {
        let dir = tempfile::tempdir().unwrap();
        let r = unpack_layer(tar, dir.path());
        (dir, r)
    }

    #[test]
    fn sanitize_paths() {
        assert_eq!(sanitize(b"./a/./b/").unwrap(), Some(PathBuf::from("a/b")));
        assert_eq!(sanitize(b"./").unwrap(), None);
        assert_eq!(sanitize(b"/").unwrap(), None);
        assert_eq!(
            sanitize(b"/etc/passwd").unwrap(),
            Some(PathBuf::from("etc/passwd"))
        );
        assert_eq!(sanitize(b"a/../b").unwrap(), Some(PathBuf::from("b")));
        for bad in [&b"a/../../b"[..], b"/../x", b"../x", b".."] {
            assert!(matches!(sanitize(bad), Err(UnpackError::DotDot(_))));
        }
    }

    #[test]
    fn detects_compression() {
        assert_eq!(detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(detect(b"etc/"), Compression::None);
    }

    #[test]
    fn unpacks_files_links_and_whiteouts() {
        let tar = raw_tar(&[
            ("etc/", EntryType::Directory, "", b""),
            ("etc/a", EntryType::Regular, "", b"hello"),
            ("etc/b", EntryType::Link, "etc/a", b""),
            ("etc/l", EntryType::Symlink, "/etc/a", b""),
            ("etc/.wh.gone", EntryType::Regular, "", b""),
            ("d/.wh..wh..opq", EntryType::Regular, "", b""),
            ("dev/null", EntryType::Char, "", b""),
            ("fifo", EntryType::Fifo, "", b""),
        ]);
        let (dir, r) = unpack(&tar);
        let u = r.unwrap();
        assert_eq!(u.size, 5);
        assert_eq!(u.diff_hex, super::super::digest::sha256_hex(&tar));
        let d = dir.path();
        assert_eq!(fs::read(d.join("etc/b")).unwrap(), b"hello");
        assert_eq!(
            fs::read_link(d.join("etc/l")).unwrap(),
            PathBuf::from("/etc/a")
        );
        let wh = fs::symlink_metadata(d.join("etc/gone")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(
            whiteout::lgetxattr(&d.join("d"), "trusted.overlay.opaque").unwrap(),
            b"y"
        );
        assert!(!d.join("etc/.wh.gone").exists());
        let null = fs::symlink_metadata(d.join("dev/null")).unwrap();
        assert!(null.file_type().is_char_device());
        assert!(fs::symlink_metadata(d.join("fifo"))
            .unwrap()
            .file_type()
            .is_fifo());
    }

    #[test]
    fn refuses_hostile_entries() {
        let outside = tempfile::tempdir().unwrap();
        let out = outside.path().to_str().unwrap();
        let cases: Vec<Vec<RawEntry<'_>>> = vec![
            vec![("../x", EntryType::Regular, "", b"x")],
            vec![("/../x", EntryType::Regular, "", b"x")],
            vec![("a/../../x", EntryType::Regular, "", b"x")],
            vec![
                ("l", EntryType::Symlink, out, b""),
                ("l/x", EntryType::Regular, "", b"x"),
            ],
            vec![("h", EntryType::Link, "/etc/passwd", b"")],
            vec![("h", EntryType::Link, "../../etc/passwd", b"")],
            vec![
                ("l", EntryType::Symlink, "/etc", b""),
                ("h", EntryType::Link, "l/passwd", b""),
            ],
        ];
        for case in cases {
            let (_dir, r) = unpack(&raw_tar(&case));
            assert!(r.is_err(), "{case:?} was accepted");
        }
        assert!(!outside.path().join("x").exists());
    }

    #[test]
    fn absolute_entries_are_relative_to_the_layer_root() {
        let (dir, r) = unpack(&raw_tar(&[
            ("/", EntryType::Directory, "", b""),
            ("/etc/", EntryType::Directory, "", b""),
            ("/etc/x", EntryType::Regular, "", b"x"),
            ("/etc/h", EntryType::Link, "/etc/x", b""),
            ("a/../etc/y", EntryType::Regular, "", b"y"),
        ]));
        r.unwrap();
        assert_eq!(fs::read(dir.path().join("etc/x")).unwrap(), b"x");
        assert_eq!(fs::read(dir.path().join("etc/h")).unwrap(), b"x");
        assert_eq!(fs::read(dir.path().join("etc/y")).unwrap(), b"y");
    }

    #[test]
    fn a_layer_without_final_padding_unpacks_but_truncated_data_does_not() {
        let full = raw_tar(&[("f", EntryType::Regular, "", b"hello")]);
        // What umoci writes: the header and the data, no padding, no end blocks.
        let unpadded = &full[..512 + 5];
        let (dir, r) = unpack(unpadded);
        let u = r.unwrap();
        assert_eq!(u.diff_hex, super::super::digest::sha256_hex(unpadded));
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"hello");
        let (_dir, r) = unpack(&full[..512 + 3]);
        assert!(matches!(r, Err(UnpackError::Truncated(_))), "{r:?}");
    }

    #[test]
    fn digests_match_what_unpacking_finds() {
        use std::io::Write;
        let tar = raw_tar(&[("f", EntryType::Regular, "", b"hello")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let (_dir, r) = unpack(&gz);
        let u = r.unwrap();
        assert_eq!(
            digests(&gz[..]).unwrap(),
            (u.blob_hex.clone(), u.diff_hex.clone())
        );
        let mut bad = gz.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        bad[mid + 1] ^= 0xff;
        assert!(digests(&bad[..]).is_err() || digests(&bad[..]).unwrap().1 != u.diff_hex);
    }

    #[test]
    fn read_errors_never_quote_the_stream() {
        let mut junk = b"root:x:0:0:secret-words:/root:/bin/sh\n".repeat(20);
        junk.truncate(1024);
        let (_dir, r) = unpack(&junk);
        let msg = r.unwrap_err().to_string();
        assert!(!msg.contains("secret") && !msg.contains("root"), "{msg}");
    }

    #[test]
    fn file_replaces_symlink_instead_of_writing_through() {
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        let t = victim.to_str().unwrap();
        let (dir, r) = unpack(&raw_tar(&[
            ("l", EntryType::Symlink, t, b""),
            ("l", EntryType::Regular, "", b"mine"),
        ]));
        r.unwrap();
        assert!(!victim.exists());
        assert_eq!(fs::read(dir.path().join("l")).unwrap(), b"mine");
    }
}
