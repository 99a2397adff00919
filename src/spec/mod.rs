//! Docker semantics → OCI runtime spec. Pure functions, unit-tested without root.
//!
//! - [`args`]: ENTRYPOINT/CMD merging, environment, working directory, `--env-file`.
//! - [`user`]: `USER[:GROUP]` resolution against the image's passwd/group text.
//! - [`defaults`]: Docker's default mounts, capabilities, masked/read-only paths, device rules.
//!
//! `build` puts them together; the caller reads files (passwd, env files) and passes text in.

pub mod args;
pub mod defaults;
pub mod user;

pub use args::{
    expand_env_args, expand_env_flags, parse_env_file, process_args, process_env, working_dir,
};
pub use defaults::default_capabilities;
pub use user::resolve_user;

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{
    LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxResourcesBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use std::collections::HashSet;
use std::path::PathBuf;

/// OCI runtime-spec version written into config.json.
pub const OCI_VERSION: &str = "1.0.2";

/// Longest hostname the kernel accepts (HOST_NAME_MAX).
const HOST_NAME_MAX: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{0}")]
    Invalid(String),
    /// Neither ENTRYPOINT nor CMD (Docker's wording).
    #[error("no command specified")]
    NoCommand,
    #[error("the working directory '{0}' is invalid, it needs to be an absolute path")]
    InvalidWorkdir(String),
    /// A `-e` entry with an empty name, e.g. `=value`.
    #[error("invalid environment variable: {0}")]
    InvalidEnv(String),
    /// A malformed `--env-file` line (the message is Docker's).
    #[error("{0}")]
    EnvFile(String),
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UnknownUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    UnknownGroup(String),
    #[error("uids and gids must be in range 0-2147483647")]
    IdRange,
    #[error("invalid hostname format: {0:?}")]
    InvalidHostname(String),
    /// oci-spec refused to build a value (should not happen with our inputs).
    #[error("building the OCI spec: {0}")]
    Oci(#[from] oci_spec::OciSpecError),
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

/// The effective USER: `--user` if given, else the image's User, else "" (root).
pub fn effective_user(image: &ImageConfiguration, opts: &RunOptions) -> String {
    opts.user
        .clone()
        .or_else(|| image.config().as_ref().and_then(|c| c.user().clone()))
        .unwrap_or_default()
}

/// The container's hostname: `--hostname` if given (and non-empty), else the first 12
/// characters of the id, as Docker does. (Docker gives `--network host` containers the host's
/// hostname; the CLI does that by passing it in `opts.hostname`, this module reads no files.)
pub fn container_hostname(opts: &RunOptions, ctx: &SpecContext) -> Result<String, SpecError> {
    match opts.hostname.as_deref().filter(|h| !h.is_empty()) {
        Some(h) => {
            validate_hostname(h)?;
            Ok(h.to_string())
        }
        None => Ok(ctx.id.get(..12).unwrap_or(&ctx.id).to_string()),
    }
}

/// A hostname the kernel will take: at most 64 bytes, no whitespace or control characters,
/// no `/`.
pub fn validate_hostname(h: &str) -> Result<(), SpecError> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || c == '/';
    if h.is_empty() || h.len() > HOST_NAME_MAX || h.chars().any(bad) {
        return Err(SpecError::InvalidHostname(h.to_string()));
    }
    Ok(())
}

/// Build the full OCI runtime spec.
///
/// Uses `ctx.user` (already resolved with [`resolve_user`] from [`effective_user`]) for the
/// process user and HOME. Mounts: Docker's defaults, then binds of the /etc files given in
/// `ctx` (read-only when the root is). Namespaces: pid, mount, uts, ipc, cgroup, and network
/// unless `--network host`. Capabilities: Docker's 14 in bounding/effective/permitted, none
/// inheritable or ambient. RLIMIT_NOFILE 1048576. `linux.devices` stays empty (the runtime
/// always makes Docker's minimal /dev); the device cgroup allows just those devices.
pub fn build(
    image: &ImageConfiguration,
    opts: &RunOptions,
    ctx: &SpecContext,
) -> Result<Spec, SpecError> {
    let hostname = container_hostname(opts, ctx)?;
    let args = process_args(image, opts)?;
    let env = process_env(image, opts, &hostname, ctx.user.home.as_deref())?;
    let cwd = working_dir(image, opts)?;

    let caps: HashSet<_> = default_capabilities().into_iter().collect();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .inheritable(HashSet::new())
        .ambient(HashSet::new())
        .build()?;
    let user = UserBuilder::default()
        .uid(ctx.user.uid)
        .gid(ctx.user.gid)
        .additional_gids(ctx.user.additional_gids.clone())
        .build()?;
    let process = ProcessBuilder::default()
        .terminal(opts.tty)
        .user(user)
        .args(args)
        .env(env)
        .cwd(PathBuf::from(cwd))
        .capabilities(capabilities)
        .rlimits(defaults::default_rlimits()?)
        .no_new_privileges(false)
        .build()?;

    let root = RootBuilder::default()
        .path(ctx.rootfs.clone())
        .readonly(opts.read_only)
        .build()?;

    let mut mounts = defaults::default_mounts();
    for (source, dest) in [
        (&ctx.etc_resolv_conf, "/etc/resolv.conf"),
        (&ctx.etc_hostname, "/etc/hostname"),
        (&ctx.etc_hosts, "/etc/hosts"),
    ] {
        if let Some(source) = source {
            mounts.push(defaults::etc_bind(source.clone(), dest, opts.read_only));
        }
    }

    let mut ns_types = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Cgroup,
    ];
    if opts.network != NetworkMode::Host {
        ns_types.push(LinuxNamespaceType::Network);
    }
    let namespaces = ns_types
        .into_iter()
        .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
        .collect::<Result<Vec<_>, _>>()?;

    let resources = LinuxResourcesBuilder::default()
        .devices(defaults::device_cgroup_rules()?)
        .build()?;
    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(defaults::masked_paths())
        .readonly_paths(defaults::readonly_paths())
        .resources(resources)
        .build()?;

    Ok(SpecBuilder::default()
        .version(OCI_VERSION)
        .root(root)
        .hostname(hostname)
        .process(process)
        .mounts(mounts)
        .linux(linux)
        .build()?)
}

/// Contents of /etc/hosts for a container with this hostname.
pub fn etc_hosts(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
    )
}
