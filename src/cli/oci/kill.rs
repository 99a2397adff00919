//! `kill [--all] ID [SIGNAL]`.

use super::args::{Global, KillArgs};
use super::{not_yet, Result};

pub fn kill(g: &Global, a: KillArgs) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("kill"))
}
