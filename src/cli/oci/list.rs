//! `state ID` and `list`: what is under --root, with each container's OCI status.

use super::args::{Global, IdArg, ListArgs};
use super::{not_yet, Result};

pub fn state(g: &Global, a: IdArg) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("state"))
}

pub fn list(g: &Global, a: ListArgs) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("list"))
}
