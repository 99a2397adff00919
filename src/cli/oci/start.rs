//! `start`: release a created container's init. Its open of the exec fifo for writing
//! returns once we open it for reading; the byte it writes says it is past that. If init
//! died instead, we see it die rather than wait forever.

use super::args::{Global, IdArg};
use super::state::{self, Record, Root, Status};
use super::{OciError, Result};
use crate::runtime::hooks;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

pub fn start(g: &Global, a: IdArg) -> Result<i32> {
    let root = Root::open(&g.root)?;
    start_id(&root, &a.id).map(|()| 0)
}

pub fn start_id(root: &Root, id: &str) -> Result<()> {
    let mut r = root
        .load(id)?
        .ok_or_else(|| OciError::NotFound(id.to_string()))?;
    match r.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(OciError::other("cannot start a container that has stopped"))
        }
        _ => return Err(OciError::other("cannot start an already running container")),
    }
    let fifo = root.fifo_of(id);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo)
        .map_err(|e| OciError::other(format!("open the exec fifo {}: {e}", fifo.display())))?;
    let mut byte = [0u8; 1];
    loop {
        match f.read(&mut byte) {
            Ok(1) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(OciError::other(format!("read the exec fifo: {e}"))),
        }
        if !r.alive() {
            return Err(OciError::other(
                "container's init exited before start (see its stderr)",
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = std::fs::remove_file(&fifo);
    r.started = true;
    root.save(&r)?;
    if let Ok(spec) = oci_spec::runtime::Spec::load(r.bundle.join("config.json")) {
        poststart(&spec, &r);
    }
    Ok(())
}

/// poststart hooks: a failure is logged, not fatal (the process runs already), as runc.
pub fn poststart(spec: &oci_spec::runtime::Spec, r: &Record) {
    if let Some(h) = spec.hooks() {
        let st = state::oci_state(r, Status::Running).to_string();
        if let Err(e) = hooks::run("poststart", h.poststart().as_deref().unwrap_or(&[]), &st) {
            eprintln!("nsbox-runtime: {e}");
        }
    }
}
