//! `ps [--format json] ID`: the processes in the container's cgroup.

use super::args::{Global, PsArgs};
use super::{not_yet, Result};

pub fn ps(g: &Global, a: PsArgs) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("ps"))
}
