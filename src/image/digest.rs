//! sha256 digests: parsing "sha256:<hex>" and hashing a stream while it is read.

use sha2::{Digest as _, Sha256};
use std::io::{self, Read};

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("invalid digest {:?}: want sha256:<64 hex digits>", shown(.0))]
    Invalid(String),
    #[error("digest mismatch for {what}: expected sha256:{expected}, got sha256:{actual}")]
    Mismatch {
        what: String,
        expected: String,
        actual: String,
    },
}

/// At most 80 characters of a string from the input, for an error message.
fn shown(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Whether `s` is exactly 64 lowercase hex digits.
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The hex part of "sha256:<hex>", validated (it becomes a file name, so it must be exact).
pub fn parse(digest: &str) -> Result<&str, DigestError> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if is_hex64(hex) => Ok(hex),
        _ => Err(DigestError::Invalid(digest.to_string())),
    }
}

/// sha256 of a byte slice, as hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Compare a computed hex digest with the expected one.
pub fn check(what: &str, expected: &str, actual: &str) -> Result<(), DigestError> {
    if expected == actual {
        Ok(())
    } else {
        Err(DigestError::Mismatch {
            what: what.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        })
    }
}

/// A reader that hashes (and counts) every byte that passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Read the rest of the stream (tar padding, gzip trailers) so the hash covers all of it.
    pub fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(drop)
    }

    /// The inner reader, the hex digest and the byte count of everything read so far.
    pub fn finish(self) -> (R, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes (and counts) every byte written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: io::Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The inner writer, the hex digest and the byte count of everything written.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.count)
    }
}

impl<W: io::Write> io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_exact_sha256() {
        let hex = sha256_hex(b"");
        assert_eq!(parse(&format!("sha256:{hex}")).ok(), Some(hex.as_str()));
        assert!(parse(&hex).is_err());
        assert!(parse("sha256:../../etc/passwd").is_err());
        assert!(parse(&format!("sha256:{}", hex.to_uppercase())).is_err());
        assert!(parse(&format!("sha512:{hex}")).is_err());
    }

    #[test]
    fn hashing_reader_hashes_what_passes() {
        let mut r = HashingReader::new(&b"hello"[..]);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        let (_, hex, n) = r.finish();
        assert_eq!(n, 5);
        assert_eq!(hex, sha256_hex(b"hello"));
        assert!(check("x", &hex, &sha256_hex(b"other")).is_err());
    }
}
