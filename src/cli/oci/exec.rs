//! `exec`: one more process in a running container (`--process FILE` or a command line).

use super::args::{ExecArgs, Global};
use super::{not_yet, Result};

pub fn exec(g: &Global, a: ExecArgs) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("exec"))
}
