//! `spec [--bundle DIR] [--rootless]`: a default config.json.

use super::args::{Global, SpecArgs};
use super::{not_yet, Result};

pub fn spec(g: &Global, a: SpecArgs) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("spec"))
}
