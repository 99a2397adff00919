//! Docker semantics → OCI runtime spec. Pure functions, unit-tested without root.
//!
//! - [`args`]: ENTRYPOINT/CMD merging, environment, working directory, `--env-file`.
//! - [`user`]: `USER[:GROUP]` resolution against the image's passwd/group text.
//! - [`defaults`]: Docker's default mounts, capabilities, masked/read-only paths, device rules.
//! - [`mounts`]: `-v`, `--mount` and `--tmpfs` parsed and validated, and turned into OCI mounts.
//!
//! `build` puts them together; the caller reads files (passwd, env files) and passes text in.

pub mod args;
pub mod defaults;
pub mod mounts;
pub mod resources;
pub mod seccomp;
pub mod seccomp_default;
pub mod security;
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
    /// Capabilities, seccomp and the rest of the confinement (spec/security.rs).
    pub security: security::SecurityOptions,
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
    /// The user's binds, volumes and tmpfs mounts ([`mounts::to_oci`]), any order.
    pub user_mounts: Vec<oci_spec::runtime::Mount>,
    /// `linux.rootfsPropagation`, when a mount needs more than the runtime's default.
    pub rootfs_propagation: Option<String>,
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

    let sec = &opts.security;
    let cap_list = security::capabilities(&default_capabilities(), sec)?;
    let seccomp = seccomp_for(sec, &cap_list)?;
    let caps: HashSet<_> = cap_list.into_iter().collect();
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
        .additional_gids(additional_gids(ctx, sec))
        .build()?;
    let process = ProcessBuilder::default()
        .terminal(opts.tty)
        .user(user)
        .args(args)
        .env(env)
        .cwd(PathBuf::from(cwd))
        .capabilities(capabilities)
        // None unless --ulimit (oci-spec's default is NOFILE 1024): inherit nsbox's limits.
        .rlimits(
            sec.ulimits
                .iter()
                .map(|u| security::parse_ulimit(u))
                .collect::<Result<Vec<_>, _>>()?,
        )
        .no_new_privileges(sec.no_new_privileges)
        .build()?;

    let root = RootBuilder::default()
        .path(ctx.rootfs.clone())
        .readonly(opts.read_only)
        .build()?;

    // The /etc files are binds like the user's: sorted with them, so a volume on /etc
    // goes first and the files are bound on top of it (as Docker does).
    let mut binds = Vec::new();
    for (source, dest) in [
        (&ctx.etc_resolv_conf, "/etc/resolv.conf"),
        (&ctx.etc_hostname, "/etc/hostname"),
        (&ctx.etc_hosts, "/etc/hosts"),
    ] {
        if let Some(source) = source {
            binds.push(defaults::etc_bind(source.clone(), dest, opts.read_only));
        }
    }
    binds.extend(ctx.user_mounts.iter().cloned());
    let mounts = mounts::merge(defaults::default_mounts(sec.privileged), binds);

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

    let (devices, device_rules) = devices(sec)?;
    let resources = LinuxResourcesBuilder::default()
        .devices(device_rules)
        .build()?;
    let confined_paths = !sec.privileged && !sec.unconfined_paths;
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(if confined_paths {
            defaults::masked_paths()
        } else {
            Vec::new()
        })
        .readonly_paths(if confined_paths {
            defaults::readonly_paths()
        } else {
            Vec::new()
        })
        .resources(resources)
        .build()?;
    linux.set_rootfs_propagation(ctx.rootfs_propagation.clone());
    if !devices.is_empty() {
        linux.set_devices(Some(devices));
    }
    linux.set_seccomp(seccomp);
    if !sec.sysctls.is_empty() {
        let mut map = std::collections::HashMap::new();
        for (k, v) in &sec.sysctls {
            security::validate_sysctl(k, opts.network != NetworkMode::Host)?;
            map.insert(k.clone(), v.clone());
        }
        linux.set_sysctl(Some(map));
    }

    Ok(SpecBuilder::default()
        .version(OCI_VERSION)
        .root(root)
        .hostname(hostname)
        .process(process)
        .mounts(mounts)
        .linux(linux)
        .build()?)
}

/// The user's groups and `--group-add`'s, without repeats.
fn additional_gids(ctx: &SpecContext, sec: &security::SecurityOptions) -> Vec<u32> {
    let mut gids = ctx.user.additional_gids.clone();
    for g in &sec.group_add {
        if !gids.contains(g) {
            gids.push(*g);
        }
    }
    gids
}

/// Docker's seccomp choice: none when privileged or unconfined, else the default profile
/// or the user's, resolved for the container's capabilities on this architecture.
fn seccomp_for(
    sec: &security::SecurityOptions,
    caps: &[oci_spec::runtime::Capability],
) -> Result<Option<oci_spec::runtime::LinuxSeccomp>, SpecError> {
    let names: Vec<String> = caps.iter().map(|c| format!("CAP_{c}")).collect();
    let arch = seccomp::HostArch::current();
    let bad = |e: seccomp::SeccompProfileError| SpecError::Invalid(e.to_string());
    match &sec.seccomp {
        _ if sec.privileged => Ok(None),
        security::SeccompChoice::Unconfined => Ok(None),
        security::SeccompChoice::Default => Ok(Some(seccomp_default::for_container(
            &names, arch, sec.kernel,
        ))),
        security::SeccompChoice::Profile { json, .. } => {
            let p = seccomp::Profile::from_json(json).map_err(bad)?;
            Ok(Some(p.to_oci(&names, arch, sec.kernel).map_err(bad)?))
        }
    }
}

/// Device nodes and the device cgroup: Docker's minimal set plus `--device` and
/// `--device-cgroup-rule`; everything with `--privileged`.
fn devices(
    sec: &security::SecurityOptions,
) -> Result<
    (
        Vec<oci_spec::runtime::LinuxDevice>,
        Vec<oci_spec::runtime::LinuxDeviceCgroup>,
    ),
    SpecError,
> {
    let mut rules = if sec.privileged {
        defaults::allow_all_devices()?
    } else {
        defaults::device_cgroup_rules()?
    };
    let mut nodes = Vec::new();
    for d in &sec.devices {
        let (node, rule) = security::device(d)?;
        nodes.push(node);
        if !sec.privileged {
            rules.push(rule);
        }
    }
    for r in &sec.device_cgroup_rules {
        rules.push(security::parse_device_cgroup_rule(r)?);
    }
    Ok((nodes, rules))
}

/// Contents of /etc/hosts for a container with this hostname.
pub fn etc_hosts(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::ConfigBuilder;
    use oci_spec::runtime::{Capability, Mount};

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn image() -> ImageConfiguration {
        let mut img = ImageConfiguration::default();
        img.set_config(Some(
            ConfigBuilder::default()
                .cmd(vec!["sh".to_string()])
                .env(vec!["LANG=C".to_string()])
                .working_dir("/srv")
                .build()
                .unwrap(),
        ));
        img
    }

    fn ctx() -> SpecContext {
        SpecContext {
            id: ID.to_string(),
            rootfs: PathBuf::from("/var/lib/nsbox/containers/x/merged"),
            user: ResolvedUser {
                uid: 1000,
                gid: 1000,
                additional_gids: vec![1000, 10],
                home: Some("/home/alice".into()),
            },
            etc_hostname: Some("/run/x/hostname".into()),
            etc_hosts: Some("/run/x/hosts".into()),
            etc_resolv_conf: Some("/run/x/resolv.conf".into()),
            user_mounts: Vec::new(),
            rootfs_propagation: None,
        }
    }

    fn spec_with(opts: &RunOptions) -> Spec {
        build(&image(), opts, &ctx()).unwrap()
    }

    fn ns_types(spec: &Spec) -> Vec<LinuxNamespaceType> {
        spec.linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .map(|n| n.typ())
            .collect()
    }

    fn mounts(spec: &Spec) -> Vec<Mount> {
        spec.mounts().clone().unwrap_or_default()
    }

    #[test]
    fn version_root_hostname_and_process_basics() {
        let spec = spec_with(&RunOptions::default());
        assert_eq!(spec.version(), "1.0.2");
        let root = spec.root().as_ref().unwrap();
        assert_eq!(root.path(), &ctx().rootfs);
        assert_eq!(root.readonly(), Some(false));
        assert_eq!(spec.hostname().as_deref(), Some("0123456789ab"));
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.terminal(), Some(false));
        assert_eq!(p.args().as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(p.cwd(), &PathBuf::from("/srv"));
        assert_eq!(p.no_new_privileges(), Some(false));
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
        assert_eq!(p.user().additional_gids().as_deref(), Some(&[1000, 10][..]));
        let env = p.env().clone().unwrap();
        assert!(env.contains(&"HOSTNAME=0123456789ab".to_string()));
        assert!(env.contains(&"HOME=/home/alice".to_string()));
        assert!(env.contains(&"LANG=C".to_string()));
        // No rlimits: the container inherits nsbox's, as Docker's containers inherit
        // the engine's (raising a hard limit needs CAP_SYS_RESOURCE, which sandboxes drop).
        assert!(p.rlimits().as_ref().is_none_or(|r| r.is_empty()));
    }

    #[test]
    fn hostname_flag_wins_and_is_validated() {
        let opts = RunOptions {
            hostname: Some("web1".into()),
            tty: true,
            ..Default::default()
        };
        let spec = spec_with(&opts);
        assert_eq!(spec.hostname().as_deref(), Some("web1"));
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.terminal(), Some(true));
        let env = p.env().clone().unwrap();
        assert!(env.contains(&"HOSTNAME=web1".to_string()));
        assert!(env.contains(&"TERM=xterm".to_string()));
        let bad = RunOptions {
            hostname: Some("a b".into()),
            ..Default::default()
        };
        assert!(matches!(
            build(&image(), &bad, &ctx()),
            Err(SpecError::InvalidHostname(_))
        ));
        assert!(validate_hostname(&"x".repeat(65)).is_err());
        assert!(validate_hostname(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn capabilities_are_dockers_fourteen() {
        let spec = spec_with(&RunOptions::default());
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone()
            .unwrap();
        let want: HashSet<Capability> = default_capabilities().into_iter().collect();
        assert_eq!(want.len(), 14);
        assert_eq!(caps.bounding().as_ref(), Some(&want));
        assert_eq!(caps.effective().as_ref(), Some(&want));
        assert_eq!(caps.permitted().as_ref(), Some(&want));
        assert_eq!(caps.inheritable().as_ref().map(HashSet::len), Some(0));
        assert_eq!(caps.ambient().as_ref().map(HashSet::len), Some(0));
    }

    #[test]
    fn namespaces_private_network_by_default() {
        let spec = spec_with(&RunOptions::default());
        assert_eq!(
            ns_types(&spec),
            vec![
                LinuxNamespaceType::Pid,
                LinuxNamespaceType::Mount,
                LinuxNamespaceType::Uts,
                LinuxNamespaceType::Ipc,
                LinuxNamespaceType::Cgroup,
                LinuxNamespaceType::Network,
            ]
        );
    }

    #[test]
    fn host_network_shares_the_net_namespace() {
        let opts = RunOptions {
            network: NetworkMode::Host,
            ..Default::default()
        };
        let types = ns_types(&spec_with(&opts));
        assert_eq!(types.len(), 5);
        assert!(!types.contains(&LinuxNamespaceType::Network));
    }

    #[test]
    fn default_mounts_in_docker_order_then_etc_binds() {
        let spec = spec_with(&RunOptions::default());
        let m = mounts(&spec);
        let dests: Vec<_> = m
            .iter()
            .map(|m| m.destination().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm",
                "/etc/resolv.conf",
                "/etc/hostname",
                "/etc/hosts",
            ]
        );
        let types: Vec<_> = m
            .iter()
            .map(|m| m.typ().clone().unwrap_or_default())
            .collect();
        assert_eq!(
            types,
            [
                "proc", "tmpfs", "devpts", "sysfs", "cgroup", "mqueue", "tmpfs", "bind", "bind",
                "bind"
            ]
        );
        let opts = |i: usize| m[i].options().clone().unwrap_or_default().join(",");
        assert_eq!(opts(0), "nosuid,noexec,nodev");
        assert_eq!(opts(1), "nosuid,strictatime,mode=755,size=65536k");
        assert_eq!(
            opts(2),
            "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"
        );
        assert_eq!(opts(3), "nosuid,noexec,nodev,ro");
        assert_eq!(opts(4), "ro,nosuid,noexec,nodev");
        assert_eq!(opts(6), "nosuid,noexec,nodev,mode=1777,size=67108864");
        assert_eq!(opts(7), "rbind,rprivate");
        assert_eq!(
            m[8].source().as_deref(),
            Some(std::path::Path::new("/run/x/hostname"))
        );
    }

    #[test]
    fn absent_etc_files_are_not_mounted() {
        let mut c = ctx();
        c.etc_hosts = None;
        c.etc_resolv_conf = None;
        let spec = build(&image(), &RunOptions::default(), &c).unwrap();
        let binds: Vec<_> = mounts(&spec)
            .into_iter()
            .filter(|m| m.typ().as_deref() == Some("bind"))
            .map(|m| m.destination().clone())
            .collect();
        assert_eq!(binds, vec![PathBuf::from("/etc/hostname")]);
    }

    #[test]
    fn read_only_root_and_ro_etc_binds() {
        let opts = RunOptions {
            read_only: true,
            ..Default::default()
        };
        let spec = spec_with(&opts);
        assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(true));
        for m in mounts(&spec)
            .iter()
            .filter(|m| m.typ().as_deref() == Some("bind"))
        {
            assert_eq!(
                m.options().clone().unwrap_or_default(),
                ["rbind", "ro", "rprivate"]
            );
        }
    }

    #[test]
    fn masked_readonly_paths_devices_and_cgroup_rules() {
        let spec = spec_with(&RunOptions::default());
        let linux = spec.linux().as_ref().unwrap();
        let masked = linux.masked_paths().clone().unwrap();
        for p in [
            "/proc/kcore",
            "/proc/keys",
            "/proc/timer_list",
            "/proc/sched_debug",
            "/sys/firmware",
        ] {
            assert!(masked.iter().any(|m| m == p), "{p} not masked");
        }
        assert_eq!(masked.len(), 12);
        assert_eq!(
            linux.readonly_paths().clone().unwrap(),
            [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ]
        );
        assert!(linux.devices().as_ref().is_none_or(Vec::is_empty));
        let rules = linux
            .resources()
            .as_ref()
            .and_then(|r| r.devices().clone())
            .unwrap();
        assert!(!rules[0].allow());
        assert!(rules[1..].iter().all(|r| r.allow()));
        assert!(linux.sysctl().as_ref().is_none_or(|s| s.is_empty()));
    }

    fn with_security(sec: security::SecurityOptions) -> Spec {
        spec_with(&RunOptions {
            security: sec,
            ..Default::default()
        })
    }

    #[test]
    fn default_spec_carries_dockers_seccomp_profile() {
        let spec = spec_with(&RunOptions::default());
        let s = spec.linux().as_ref().unwrap().seccomp().clone().unwrap();
        assert_eq!(
            s.default_action(),
            oci_spec::runtime::LinuxSeccompAction::ScmpActErrno
        );
        let names: Vec<String> = s
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.names().clone())
            .collect();
        assert!(names.iter().any(|n| n == "read"));
        assert!(!names.iter().any(|n| n == "mount" || n == "keyctl"));
        let unconfined = with_security(security::SecurityOptions {
            seccomp: security::SeccompChoice::Unconfined,
            ..Default::default()
        });
        assert!(unconfined.linux().as_ref().unwrap().seccomp().is_none());
    }

    #[test]
    fn privileged_spec_is_dockers() {
        let spec = with_security(security::SecurityOptions {
            privileged: true,
            devices: vec![security::DeviceRequest {
                container_path: "/dev/loop0".into(),
                kind: 'b',
                major: 7,
                minor: 0,
                file_mode: 0o600,
                uid: 0,
                gid: 0,
                access: "rwm".into(),
            }],
            ..Default::default()
        });
        let linux = spec.linux().as_ref().unwrap();
        assert!(linux.seccomp().is_none());
        assert!(linux.masked_paths().as_ref().is_none_or(Vec::is_empty));
        assert!(linux.readonly_paths().as_ref().is_none_or(Vec::is_empty));
        assert_eq!(linux.devices().as_ref().map(Vec::len), Some(1));
        let rules = linux
            .resources()
            .as_ref()
            .unwrap()
            .devices()
            .clone()
            .unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].to_string(), "a *:* rwm");
        assert!(rules[0].allow());
        let sys = mounts(&spec)
            .into_iter()
            .find(|m| m.destination() == std::path::Path::new("/sys"))
            .unwrap();
        assert!(!sys.options().iter().flatten().any(|o| o == "ro"));
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone()
            .unwrap();
        assert!(caps
            .bounding()
            .as_ref()
            .unwrap()
            .contains(&Capability::SysAdmin));
    }

    #[test]
    fn sysctls_ulimits_groups_and_nnp_reach_the_spec() {
        let sec = security::SecurityOptions {
            no_new_privileges: true,
            sysctls: vec![("net.ipv4.ip_forward".into(), "1".into())],
            ulimits: vec!["nofile=10:20".into()],
            group_add: vec![4242, 10],
            ..Default::default()
        };
        let spec = with_security(sec.clone());
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.no_new_privileges(), Some(true));
        assert_eq!(p.rlimits().as_ref().map(Vec::len), Some(1));
        assert_eq!(
            p.user().additional_gids().as_deref(),
            Some(&[1000, 10, 4242][..])
        );
        let sysctl = spec.linux().as_ref().unwrap().sysctl().clone().unwrap();
        assert_eq!(sysctl["net.ipv4.ip_forward"], "1");
        let host = RunOptions {
            network: NetworkMode::Host,
            security: sec,
            ..Default::default()
        };
        assert!(build(&image(), &host, &ctx()).is_err());
    }

    #[test]
    fn build_propagates_docker_errors() {
        let empty = ImageConfiguration::default();
        let err = build(&empty, &RunOptions::default(), &ctx()).unwrap_err();
        assert_eq!(err.to_string(), "no command specified");
        let opts = RunOptions {
            workdir: Some("relative".into()),
            ..Default::default()
        };
        assert!(matches!(
            build(&image(), &opts, &ctx()),
            Err(SpecError::InvalidWorkdir(_))
        ));
    }

    #[test]
    fn effective_user_prefers_flag_then_image() {
        let mut img = ImageConfiguration::default();
        img.set_config(Some(
            ConfigBuilder::default().user("nobody").build().unwrap(),
        ));
        assert_eq!(effective_user(&img, &RunOptions::default()), "nobody");
        let opts = RunOptions {
            user: Some("1000:1000".into()),
            ..Default::default()
        };
        assert_eq!(effective_user(&img, &opts), "1000:1000");
        assert_eq!(
            effective_user(&ImageConfiguration::default(), &RunOptions::default()),
            ""
        );
    }

    #[test]
    fn spec_serializes_with_oci_names() {
        let spec = spec_with(&RunOptions::default());
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["ociVersion"], "1.0.2");
        assert_eq!(json["process"]["user"]["additionalGids"][1], 10);
        assert_eq!(json["linux"]["maskedPaths"][0], "/proc/asound");
        assert!(json["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_NET_BIND_SERVICE"));
    }
}
