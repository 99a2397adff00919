//! The container log, in Docker's json-file format: one JSON object per line,
//! `{"log":"hello\n","stream":"stdout","time":"2026-11-25T13:00:00.123456789Z"}`.
//! Lines are cut at newlines (a long line without one is cut at 16 KiB, as Docker does).
//! When the file passes `max_size` it is rotated: `container.log` → `.1` → `.2` ..., keeping
//! `max_files` files in all.

use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Docker's buffer size: a line longer than this is split into partial entries.
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOptions {
    /// Rotate when the current file is larger than this (bytes); 0 = never.
    pub max_size: u64,
    /// Files kept, the current one included (at least 1).
    pub max_files: u32,
}

impl Default for LogOptions {
    /// Docker's json-file keeps everything by default; a runtime for learners should not fill
    /// the disk with a forgotten `while true; do date; done`: 10 MB × 3.
    fn default() -> Self {
        LogOptions {
            max_size: 10 * 1024 * 1024,
            max_files: 3,
        }
    }
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Which stream a chunk of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Appends entries to `path`, rotating by size.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    opts: LogOptions,
    /// Bytes of an unfinished line, per stream.
    pending: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(path: &Path, opts: LogOptions) -> io::Result<Self> {
        let file = crate::dataroot::append_private(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            opts,
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Record output; complete lines become entries now, the rest waits for its newline.
    pub fn write(&mut self, stream: Stream, mut data: &[u8]) -> io::Result<()> {
        let i = stream as usize;
        while let Some(nl) = data.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.pending[i]);
            line.extend_from_slice(&data[..=nl]);
            self.entry(stream, &line)?;
            data = &data[nl + 1..];
        }
        self.pending[i].extend_from_slice(data);
        while self.pending[i].len() >= MAX_LINE {
            let rest = self.pending[i].split_off(MAX_LINE);
            let line = std::mem::replace(&mut self.pending[i], rest);
            self.entry(stream, &line)?;
        }
        Ok(())
    }

    /// Write out unfinished lines (at exit).
    pub fn flush(&mut self) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let line = std::mem::take(&mut self.pending[stream as usize]);
            if !line.is_empty() {
                self.entry(stream, &line)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, stream: Stream, line: &[u8]) -> io::Result<()> {
        let e = Entry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: stream.name().to_string(),
            time: crate::state::now_rfc3339(),
        };
        let mut bytes = serde_json::to_vec(&e).map_err(io::Error::other)?;
        bytes.push(b'\n');
        if self.opts.max_size > 0
            && self.size > 0
            && self.size + bytes.len() as u64 > self.opts.max_size
        {
            self.rotate()?;
        }
        self.file.write_all(&bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let keep = self.opts.max_files.max(1);
        if keep == 1 {
            self.file.set_len(0)?;
        } else {
            for n in (1..keep - 1).rev() {
                let _ = fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1));
            }
            fs::rename(&self.path, rotated(&self.path, 1))?;
            self.file = crate::dataroot::append_private(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The log files of `path`, oldest first (`.N` ... `.1`, then the current one).
pub fn files(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = (1..100)
        .map(|n| rotated(path, n))
        .take_while(|p| p.exists())
        .collect();
    out.reverse();
    if path.exists() {
        out.push(path.to_path_buf());
    }
    out
}

/// Every entry in the files, oldest first. Unparsable lines (a crash mid-write) are skipped.
pub fn read_all(path: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for f in files(path) {
        if let Ok(file) = File::open(&f) {
            out.extend(parse_lines(BufReader::new(file)));
        }
    }
    out
}

/// Entries from a reader, skipping what does not parse.
pub fn parse_lines(r: impl BufRead) -> Vec<Entry> {
    r.lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_partials_and_streams() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("container.log");
        let mut w = LogWriter::open(&p, LogOptions::default()).unwrap();
        w.write(Stream::Stdout, b"one\ntw").unwrap();
        w.write(Stream::Stderr, b"err\n").unwrap();
        w.write(Stream::Stdout, b"o\nthree").unwrap();
        w.flush().unwrap();
        let e = read_all(&p);
        let got: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.stream.as_str(), e.log.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("stdout", "one\n"),
                ("stderr", "err\n"),
                ("stdout", "two\n"),
                ("stdout", "three")
            ]
        );
        assert!(e[0].time.ends_with('Z'));
    }

    #[test]
    fn long_lines_are_split_and_files_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let opts = LogOptions {
            max_size: 4096,
            max_files: 3,
        };
        let mut w = LogWriter::open(&p, opts).unwrap();
        w.write(Stream::Stdout, &vec![b'x'; MAX_LINE + 10]).unwrap();
        for i in 0..200 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        w.flush().unwrap();
        let f = files(&p);
        assert_eq!(f.len(), 3, "{f:?}");
        for file in &f {
            // One entry may pass the limit on its own (the 16 KiB one), none is cut.
            let len = fs::metadata(file).unwrap().len();
            assert!(len <= 4096 || len > MAX_LINE as u64, "{file:?}: {len}");
        }
        let all = read_all(&p);
        assert_eq!(all.last().unwrap().log, "line 199\n");
        // The oldest entries were rotated away.
        assert!(all.len() < 201);
    }
}
