//! `events [--stats] [--interval D] ID`: OOM events, and cgroup stats as runc prints them.

use super::args::{EventsArgs, Global};
use super::{not_yet, Result};

pub fn events(g: &Global, a: EventsArgs) -> Result<i32> {
    let _ = (g, a);
    Err(not_yet("events"))
}
