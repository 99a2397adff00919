//! `create` and `run`: set a bundle up, leave init blocked on the exec fifo.

use super::args::{CreateArgs, Global, RunArgs};
use super::{not_yet, Result};

pub fn create(g: &Global, a: CreateArgs) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("create"))
}

pub fn run(g: &Global, a: RunArgs) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("run"))
}
