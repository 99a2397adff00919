//! Docker semantics → OCI runtime spec. Pure functions, unit-tested without root.
//!
//! Placeholder: the spec helper replaces the bodies; the signatures are the contract.

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::Spec;
use std::path::PathBuf;

pub mod resources;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{0}")]
    Invalid(String),
}

/// `--network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// A new network namespace with only `lo`, up (Docker's `none`).
    #[default]
    None,
    /// Share the host's network namespace.
    Host,
}

/// What the user asked for on the `run` command line, already read from files
/// (`--env-file` contents are merged into `env` by the CLI, bare `-e K` is looked up there too).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// "K=V" entries from -e / --env-file, in command-line order.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// USER[:GROUP], names or numbers.
    pub user: Option<String>,
    pub hostname: Option<String>,
    /// `--entrypoint`; `Some("")` clears the image's entrypoint.
    pub entrypoint: Option<String>,
    /// CMD [ARG...] after the image name.
    pub cmd: Vec<String>,
    pub network: NetworkMode,
    pub read_only: bool,
    pub tty: bool,
    pub interactive: bool,
}

/// A user resolved against the image's /etc/passwd and /etc/group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// Home directory from passwd (for HOME), if the user was found there.
    pub home: Option<String>,
}

/// Facts about this container the spec needs beyond options and image config.
#[derive(Debug, Clone)]
pub struct SpecContext {
    /// Container id (64 hex).
    pub id: String,
    /// The rootfs path (the overlay merged dir).
    pub rootfs: PathBuf,
    pub user: ResolvedUser,
    /// Host files bind-mounted over /etc/hostname, /etc/hosts, /etc/resolv.conf.
    pub etc_hostname: Option<PathBuf>,
    pub etc_hosts: Option<PathBuf>,
    pub etc_resolv_conf: Option<PathBuf>,
}

/// ENTRYPOINT/CMD merging (Docker's rules). Empty result → error "no command specified".
pub fn process_args(
    _image: &ImageConfiguration,
    _opts: &RunOptions,
) -> Result<Vec<String>, SpecError> {
    Err(SpecError::Invalid("not implemented".into()))
}

/// Resolve USER[:GROUP] (names or numbers) against passwd and group file contents.
pub fn resolve_user(_user: &str, _passwd: &str, _group: &str) -> Result<ResolvedUser, SpecError> {
    Err(SpecError::Invalid("not implemented".into()))
}

/// The effective USER: `--user` if given, else the image's User, else "" (root).
pub fn effective_user(image: &ImageConfiguration, opts: &RunOptions) -> String {
    opts.user
        .clone()
        .or_else(|| image.config().as_ref().and_then(|c| c.user().clone()))
        .unwrap_or_default()
}

/// Build the full OCI runtime spec.
pub fn build(
    _image: &ImageConfiguration,
    _opts: &RunOptions,
    _ctx: &SpecContext,
) -> Result<Spec, SpecError> {
    Err(SpecError::Invalid("not implemented".into()))
}

/// Contents of /etc/hosts for a container with this hostname.
pub fn etc_hosts(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
    )
}

/// Docker's --env-file format (placeholder until the spec work lands).
pub fn parse_env_file(contents: &str) -> Result<Vec<String>, SpecError> {
    Ok(contents
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

/// Bare `K` → `K=<host value>`, dropped if unset (placeholder until the spec work lands).
pub fn expand_env_args(args: &[String], host: impl Fn(&str) -> Option<String>) -> Vec<String> {
    args.iter()
        .filter_map(|a| {
            if a.contains('=') {
                Some(a.clone())
            } else {
                host(a).map(|v| format!("{a}={v}"))
            }
        })
        .collect()
}
