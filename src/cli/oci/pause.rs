//! `pause` and `resume`: the freezer.

use super::args::{Global, IdArg};
use super::{not_yet, Result};

pub fn pause(g: &Global, a: IdArg) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("pause"))
}

pub fn resume(g: &Global, a: IdArg) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("resume"))
}
