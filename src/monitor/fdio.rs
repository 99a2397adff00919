//! The few descriptor loops every supervising loop needs: poll once, read once, write all.
//! EINTR is retried everywhere; EOF and errors both end a stream.

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::{read, write};
use std::os::fd::BorrowedFd;

/// Wait for any of `fds`; which ones are ready, or None when a signal interrupted the wait.
pub fn ready(fds: &mut [PollFd<'_>]) -> nix::Result<Option<Vec<bool>>> {
    match poll(fds, PollTimeout::NONE) {
        Err(Errno::EINTR) => Ok(None),
        Err(e) => Err(e),
        Ok(_) => Ok(Some(
            fds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect(),
        )),
    }
}

/// Whether `fd` has data right now.
pub fn readable_now(fd: BorrowedFd<'_>) -> bool {
    let mut p = [PollFd::new(fd, PollFlags::POLLIN)];
    matches!(poll(&mut p, PollTimeout::ZERO), Ok(n) if n > 0)
}

/// One read; None at EOF or on error (EIO from a pty whose slave side is closed).
pub fn read_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Option<usize> {
    loop {
        match read(fd, buf) {
            Err(Errno::EINTR) => continue,
            Ok(0) | Err(_) => return None,
            Ok(n) => return Some(n),
        }
    }
}

pub fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match write(fd, data) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(n) => data = &data[n..],
        }
    }
    Ok(())
}

/// One read from `from`, written fully to `to`; None at EOF or on error.
pub fn copy(from: BorrowedFd<'_>, to: BorrowedFd<'_>, buf: &mut [u8]) -> Option<usize> {
    let n = read_some(from, buf)?;
    write_all(to, &buf[..n]).ok()?;
    Some(n)
}
