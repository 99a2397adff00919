//! `delete [--force] ID`: kill, run poststop hooks, remove cgroup and record.

use super::args::{DeleteArgs, Global};
use super::{not_yet, Result};

pub fn delete(g: &Global, a: DeleteArgs) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("delete"))
}
