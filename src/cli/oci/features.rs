//! `features`: what this runtime supports, as the OCI features document.

use super::args::Global;
use super::{not_yet, Result};

pub fn features(g: &Global) -> Result<i32> {
    let _ = g;
    Err(not_yet("features"))
}
