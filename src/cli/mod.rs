//! The command line: clap definitions, one file per command group, and the mapping of
//! errors to one-line messages with Docker's exit codes.

pub mod cgroup_view;
pub mod container;
pub mod exec;
pub mod human;
pub mod image;
pub mod info;
pub mod inspect;
pub mod layers;
pub mod lifecycle;
pub mod logs;
pub mod machinery;
pub mod mounts;
pub mod ns;
pub mod resources;
pub mod run;
pub mod security;
pub mod stats;
pub mod system;
pub mod update;
pub mod volume;

use std::fmt;

/// Docker's exit codes for failures that are not the container's own status.
pub const EXIT_NSBOX: i32 = 125;

/// An error that carries the exit code nsbox should end with.
#[derive(Debug)]
pub struct ExitError {
    pub code: i32,
    pub msg: String,
}

impl ExitError {
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        ExitError {
            code,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ExitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for ExitError {}

/// The exit code for an error: the one it carries, else 125.
pub fn exit_code_of(err: &anyhow::Error) -> i32 {
    err.chain()
        .find_map(|e| e.downcast_ref::<ExitError>())
        .map(|e| e.code)
        .unwrap_or(EXIT_NSBOX)
}
