//! `update`: new resource limits for a running container.

use super::args::{Global, UpdateArgs};
use super::{not_yet, Result};

pub fn update(g: &Global, a: UpdateArgs) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("update"))
}
