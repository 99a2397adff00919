//! `start`: release a created container's init (open its exec fifo).

use super::args::{Global, IdArg};
use super::{not_yet, Result};

pub fn start(g: &Global, a: IdArg) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("start"))
}
