//! What the user asked for about confinement (`--privileged`, `--cap-add/--cap-drop`,
//! `--security-opt`, devices, sysctls, ulimits, user namespaces): plain options, read by
//! `spec::build` into the OCI spec. The CLI fills them (cli/security.rs); pure, no I/O.
#![allow(dead_code)] // read by spec::build as the confinement work lands

use std::path::PathBuf;

/// `--security-opt seccomp=…`: Docker's default profile, none, or a profile file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SeccompChoice {
    #[default]
    Default,
    Unconfined,
    /// A profile in Docker's/OCI's JSON format, already read by the CLI.
    Profile {
        path: PathBuf,
        json: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOptions {
    /// `--privileged`: all capabilities, all devices, no seccomp, no masked paths, rw /sys.
    pub privileged: bool,
    /// `--cap-add` / `--cap-drop` (names as given: `NET_ADMIN`, `CAP_NET_ADMIN`, `ALL`).
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--security-opt seccomp=…`.
    pub seccomp: SeccompChoice,
}
