//! Writing filesystem entries into a tar stream (for `commit` layers and `export`): owners,
//! modes, mtimes, symlinks, devices, fifos, and hardlinks as tar links to the first name.
//! Never follows a symlink: entries are read relative to a directory fd, with O_NOFOLLOW.

use crate::runtime::safepath::Dir;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use tar::{EntryType, Header};

pub struct TarWriter<W: Write> {
    builder: tar::Builder<W>,
    /// (dev, ino) of regular files with several names → the first name written.
    links: HashMap<(u64, u64), String>,
    unmap: Option<IdUnmap>,
}

/// Host ids back to a user-namespaced container's own (its uid/gid mappings as
/// (container, host, size)): what such a container wrote is owned by its mapped ids on the
/// host, but belongs in a layer as the container saw it (Docker's userns-remap does the same).
/// Ids outside every mapping (the image's own files, on disk as in the image) stay.
#[derive(Debug, Clone, Default)]
pub struct IdUnmap {
    pub uid: Vec<(u32, u32, u32)>,
    pub gid: Vec<(u32, u32, u32)>,
}

impl IdUnmap {
    fn back(maps: &[(u32, u32, u32)], id: u32) -> u32 {
        maps.iter()
            .find(|(_, host, size)| {
                id >= *host && u64::from(id) < u64::from(*host) + u64::from(*size)
            })
            .map(|(container, host, _)| container + (id - host))
            .unwrap_or(id)
    }
}

impl<W: Write> TarWriter<W> {
    pub fn new(w: W) -> Self {
        TarWriter {
            builder: tar::Builder::new(w),
            links: HashMap::new(),
            unmap: None,
        }
    }

    /// Owners written through `unmap` (None: as on disk).
    pub fn unmapping(mut self, unmap: Option<IdUnmap>) -> Self {
        self.unmap = unmap;
        self
    }

    fn header(&self, meta: &Metadata, kind: EntryType) -> Header {
        let (mut uid, mut gid) = (meta.uid(), meta.gid());
        if let Some(u) = &self.unmap {
            uid = IdUnmap::back(&u.uid, uid);
            gid = IdUnmap::back(&u.gid, gid);
        }
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(meta.mode() & 0o7777);
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_mtime(meta.mtime().max(0) as u64);
        h.set_size(0);
        h
    }

    /// Append entry `entry` of the directory held open as `dir` (never through a symlink:
    /// a tree a running container may be changing), described by `meta`, as `name`.
    pub fn append_at(
        &mut self,
        name: &str,
        dir: &Dir,
        entry: &OsStr,
        meta: &Metadata,
    ) -> io::Result<()> {
        self.append_with(name, meta, || dir.read_link(entry), || dir.open_file(entry))
    }

    fn append_with(
        &mut self,
        name: &str,
        meta: &Metadata,
        read_link: impl FnOnce() -> io::Result<Option<PathBuf>>,
        open: impl FnOnce() -> io::Result<Option<fs::File>>,
    ) -> io::Result<()> {
        let ft = meta.file_type();
        if ft.is_dir() {
            let mut h = self.header(meta, EntryType::Directory);
            return self
                .builder
                .append_data(&mut h, format!("{name}/"), io::empty());
        }
        if ft.is_symlink() {
            let mut h = self.header(meta, EntryType::Symlink);
            let Some(target) = read_link()? else {
                return Ok(()); // changed since it was listed: as if we had listed it later
            };
            return self.builder.append_link(&mut h, name, target);
        }
        if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some(first) = self.links.get(&key) {
                    let mut h = self.header(meta, EntryType::Link);
                    let first = first.clone();
                    return self.builder.append_link(&mut h, name, first);
                }
            }
            let Some(f) = open()? else {
                return Ok(()); // changed since it was listed: as if we had listed it later
            };
            if meta.nlink() > 1 {
                self.links.insert(key, name.to_string());
            }
            let size = f.metadata()?.len();
            let mut h = self.header(meta, EntryType::Regular);
            h.set_size(size);
            // Exactly `size` bytes even if a running container grows or truncates the file
            // meanwhile (zeros make up for a shrink): the header stays true.
            let mut data = f.take(size).chain(io::repeat(0)).take(size);
            return self.builder.append_data(&mut h, name, &mut data);
        }
        let kind = if ft.is_char_device() {
            EntryType::Char
        } else if ft.is_block_device() {
            EntryType::Block
        } else if ft.is_fifo() {
            EntryType::Fifo
        } else {
            return Ok(()); // sockets do not go into images (Docker skips them too)
        };
        let mut h = self.header(meta, kind);
        if kind != EntryType::Fifo {
            let rdev = meta.rdev();
            h.set_device_major(libc::major(rdev))?;
            h.set_device_minor(libc::minor(rdev))?;
        }
        self.builder.append_data(&mut h, name, io::empty())
    }

    /// An empty regular file `name`: an OCI whiteout marker (`.wh.x`, `.wh..wh..opq`).
    pub fn marker(&mut self, name: &str, mtime: i64) -> io::Result<()> {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime.max(0) as u64);
        h.set_size(0);
        self.builder.append_data(&mut h, name, io::empty())
    }

    /// Write the end-of-archive blocks and return the writer.
    pub fn finish(self) -> io::Result<W> {
        self.builder.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::IdUnmap;

    #[test]
    fn host_ids_in_a_mapping_go_back_others_stay() {
        let maps = [(0, 100000, 65536), (70000, 5000, 10)];
        assert_eq!(IdUnmap::back(&maps, 100000), 0);
        assert_eq!(IdUnmap::back(&maps, 100005), 5);
        assert_eq!(IdUnmap::back(&maps, 165536), 165536);
        assert_eq!(IdUnmap::back(&maps, 5003), 70003);
        assert_eq!(IdUnmap::back(&maps, 0), 0);
    }
}
