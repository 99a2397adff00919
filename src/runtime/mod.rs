//! The runtime core: executes an OCI runtime spec. Knows nothing of images or Docker.

pub mod cgroups;
pub mod channel;
pub mod cloned_binary;
pub mod enter;
pub mod exec;
pub mod hooks;
mod init;
pub mod keyring;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod safepath;
pub mod seccomp;
mod security;
pub mod sys;
pub mod tiny_init;
pub mod tty;
pub mod unsupported;
pub mod userns;

pub use process::{create, create_with, Launched, Stdio};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Namespace(#[from] namespaces::NamespaceError),
    #[error(transparent)]
    Cgroup(#[from] cgroups::CgroupError),
    #[error(transparent)]
    Userns(#[from] userns::UsernsError),
    #[error(transparent)]
    Channel(#[from] channel::ChannelError),
    #[error(transparent)]
    Unsupported(#[from] unsupported::Unsupported),
    #[error("clone: {0}")]
    Clone(std::io::Error),
    #[error("{0}")]
    Sys(#[from] nix::Error),
    /// init failed; `code` is what nsbox exits with (125/126/127).
    #[error("{msg}")]
    Init { code: i32, msg: String },
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    #[error("exec fifo {0}: {1}")]
    Fifo(PathBuf, std::io::Error),
    #[error("protocol error: {0}")]
    Protocol(&'static str),
}

impl RuntimeError {
    pub fn exit_code(&self) -> i32 {
        match self {
            RuntimeError::Init { code, .. } => *code,
            _ => 125,
        }
    }
}
