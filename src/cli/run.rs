//! `nsbox run`: image → OCI spec + overlay rootfs → runtime → monitor → state.
//! With `--bundle DIR` it runs a plain OCI bundle, exactly as `crun run` would.

use super::mounts::{self, MountFlags};
use super::resources::ResourceArgs;
use super::{ExitError, EXIT_NSBOX};
use crate::dataroot::DataRoot;
use crate::explain;
use crate::image::ImageStore;
use crate::monitor::client::{ClientOptions, End};
use crate::monitor::log::LogOptions;
use crate::monitor::{self, MonitorError, RestartPolicy, Started};
use crate::runtime::safepath::InRoot;
use crate::spec::resources::ResourceOptions;
use crate::spec::{self, NetworkMode, RunOptions, SpecContext};
use crate::state::{self, ContainerState, Containers};
use crate::storage::overlay::{self, OverlayPaths};
use crate::storage::volumes::Volumes;
use anyhow::{Context, Result};
use clap::{ArgAction, Args, ValueEnum};
use oci_spec::runtime::Spec;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Network {
    None,
    Host,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
pub enum ExplainFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Remove the container (and its upper dir) when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (K=V, or K to copy it from this environment).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// USER[:GROUP], names or numeric ids.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long = "hostname")]
    pub hostname: Option<String>,
    /// Overwrite the image's ENTRYPOINT (resets its CMD).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Network: none (own namespace with only lo) or host.
    #[arg(long = "network", alias = "net", value_enum, default_value = "none")]
    pub network: Network,
    /// Bind mount a host path or mount a volume: [SRC:]DST[:OPTS] (OPTS: ro, nocopy, propagation).
    #[arg(short = 'v', long = "volume", value_name = "[SRC:]DST[:OPTS]")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount: type=bind|volume|tmpfs,source=..,target=..[,readonly,...].
    #[arg(long = "mount")]
    pub mount: Vec<String>,
    /// Mount a tmpfs: PATH[:size=..,mode=..,noexec,...].
    #[arg(long = "tmpfs")]
    pub tmpfs: Vec<String>,
    /// Mount the volumes and binds of another container: CTR[:ro|rw].
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Mount the container's root filesystem read-only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Keep STDIN open.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Run in the background and print the container ID.
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys", default_value = monitor::client::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Restart policy: no, on-failure[:max-retries], always, unless-stopped.
    #[arg(long = "restart", default_value = "no", value_parser = RestartPolicy::parse)]
    pub restart: RestartPolicy,
    /// Log options: max-size=10m, max-file=3 (the json-file log of a container's output).
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opt: Vec<String>,
    /// Run nsbox's tiny init as pid 1: it forwards signals and reaps zombies.
    #[arg(long = "init")]
    pub init: bool,
    /// Proxy received signals to the process.
    #[arg(long = "sig-proxy", default_value_t = true, action = ArgAction::Set)]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub resources: ResourceArgs,
    #[command(flatten)]
    pub userns: super::userns::UsernsArgs,
    #[command(flatten)]
    pub security: super::security::SecurityArgs,
    /// Parent cgroup for the container (absolute, or relative to nsbox's own cgroup).
    #[arg(long = "cgroup-parent", value_parser = spec::resources::parse_cgroup_parent)]
    pub cgroup_parent: Option<String>,
    /// Run an OCI bundle (config.json + rootfs) instead of an image.
    #[arg(long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Narrate every step in kernel terms on stderr.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "text", require_equals = true)]
    pub explain: Option<ExplainFormat>,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// IMAGE [COMMAND [ARG...]] (no IMAGE with --bundle).
    #[arg(trailing_var_arg = true, value_name = "IMAGE [COMMAND] [ARG...]")]
    pub args: Vec<String>,
}

/// `--explain[=json]`.
pub fn enable_explain(format: Option<ExplainFormat>) {
    match format {
        Some(ExplainFormat::Text) => explain::enable(explain::Mode::Text),
        Some(ExplainFormat::Json) => explain::enable(explain::Mode::Json),
        None => {}
    }
}

pub fn run(root: &DataRoot, args: RunArgs) -> Result<i32> {
    enable_explain(args.explain);
    // Terminal and detach-key problems fail before anything exists.
    let client = client_options(&args)?;
    if let Some(bundle) = &args.bundle {
        args.userns.refuse_with_bundle()?;
        return run_bundle(root, bundle, &args, &client);
    }
    let Some((image_ref, cmd)) = args.args.split_first() else {
        return Err(ExitError::new(
            EXIT_NSBOX,
            "\"nsbox run\" requires at least 1 argument: IMAGE [COMMAND] [ARG...]",
        )
        .into());
    };
    if args.rm && args.restart != RestartPolicy::No {
        return Err(ExitError::new(EXIT_NSBOX, "Conflicting options: --restart and --rm").into());
    }
    let opts = run_options(&args, cmd.to_vec())?;
    let userns = args.userns.mode()?;
    // Bad limits fail here, before anything exists.
    let mut host_config = args.resources.apply_to(&ResourceOptions::default())?;
    host_config.cgroup_parent = args.cgroup_parent.clone().unwrap_or_default();
    let containers = Containers::open(root)?;
    let mount_requests = mounts::requests(
        &containers,
        &MountFlags {
            volume: &args.volume,
            mount: &args.mount,
            tmpfs: &args.tmpfs,
            volumes_from: &args.volumes_from,
        },
    )?;
    let store = ImageStore::open(root)?;
    let image = store.resolve(image_ref)?;
    let image_config = store.config(&image)?;
    let lower = store.layer_dirs(&image)?;
    explain::step("image", || {
        format!("{image_ref} → {} layers ({})", lower.len(), &image.id)
    });
    // Fail on a missing command before anything is created.
    let process_args = spec::process_args(&image_config, &opts)?;

    let log = args.log_options()?;

    let id = state::new_id().context("generate container id")?;
    let plan = Plan {
        id: id.clone(),
        name: args.name.clone(),
        image_ref: image_ref.clone(),
        image_id: image.id.clone(),
        image_config,
        lower,
        mount_requests,
        opts,
        process_args,
        host_config,
        log,
        rm: args.rm,
        tty: args.tty,
        interactive: args.interactive,
        restart: args.restart,
        init: args.init,
        userns,
    };
    // Everything from here on happens in the monitor, which owns the container from its
    // first file on: a client that dies now leaves nothing half-made.
    let code = launch(
        root,
        &id,
        || create(root, &containers, plan).map_err(failure),
        args.detach,
        &client,
    )?;
    if args.detach {
        println!("{id}");
    }
    Ok(code)
}

/// What `run` decided before anything exists; the monitor makes the container from it.
struct Plan {
    id: String,
    name: Option<String>,
    image_ref: String,
    image_id: String,
    image_config: oci_spec::image::ImageConfiguration,
    lower: Vec<PathBuf>,
    mount_requests: Vec<crate::spec::mounts::MountRequest>,
    opts: RunOptions,
    process_args: Vec<String>,
    host_config: ResourceOptions,
    log: LogOptions,
    rm: bool,
    tty: bool,
    interactive: bool,
    restart: RestartPolicy,
    init: bool,
    userns: crate::spec::userns::UsernsMode,
}

/// Make the container (in the monitor): its dir and first state, its name, the overlay
/// rootfs, volumes and config.json. Whatever fails is rolled back.
fn create(root: &DataRoot, containers: &Containers, plan: Plan) -> Result<Spec> {
    let Plan { id, .. } = &plan;
    let dir = containers.dir_of(id);
    let paths = OverlayPaths::for_container(&dir, plan.lower.clone());
    let volumes = Volumes::open(root)?;
    let mut undo = Undo {
        containers,
        name: None,
        dir: None,
        merged: None,
        volumes: None,
    };
    let (monitor_pid, monitor_start) = state::own_process();
    let st = ContainerState {
        image: plan.image_ref.clone(),
        image_id: plan.image_id.clone(),
        auto_remove: plan.rm,
        lower_dirs: plan.lower.clone(),
        host_config: plan.host_config.clone(),
        tty: plan.tty,
        interactive: plan.interactive,
        restart: plan.restart,
        log: plan.log,
        log_path: dir.join("container.log"),
        monitor_pid,
        monitor_start,
        ..ContainerState::new(
            id.clone(),
            String::new(),
            plan.process_args.clone(),
            dir.clone(),
            paths.merged.clone(),
        )
    };
    containers.create(&st)?;
    undo.dir = Some(dir.clone());
    let name = reserve_name(containers, plan.name.as_deref(), id)?;
    undo.name = Some(name.clone());
    let ids = super::userns::allocate(root, &plan.userns)?;
    let ids_plan = ids
        .as_ref()
        .map(|a| super::userns::plan_of(&a.uid, &a.gid))
        .transpose()?;
    super::userns::mount_rootfs(root, &paths, ids_plan.as_ref())?;
    undo.merged = Some(paths.merged.clone());
    let user_mounts = mounts::prepare(&volumes, &plan.mount_requests, &paths.merged)?;
    undo.volumes = Some((&volumes, user_mounts.created.clone()));
    super::userns::own_new_volumes(&volumes, &user_mounts.created, ids_plan.as_ref())?;
    containers.update(id, |s| {
        s.name = name.clone();
        s.mounts = user_mounts.points.clone();
    })?;

    let mut user = resolve_user(
        &paths.merged,
        &spec::effective_user(&plan.image_config, &plan.opts),
    )?;
    for gid in resolve_groups(&paths.merged, &plan.opts.security.group_add_names)? {
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    let hostname = plan
        .opts
        .hostname
        .clone()
        .unwrap_or_else(|| id[..12].to_string());
    let ctx = SpecContext {
        id: id.clone(),
        rootfs: paths.merged.clone(),
        user,
        etc_hostname: Some(write_file(&dir.join("hostname"), &format!("{hostname}\n"))?),
        etc_hosts: Some(write_file(&dir.join("hosts"), &spec::etc_hosts(&hostname))?),
        etc_resolv_conf: Some(write_file(&dir.join("resolv.conf"), &resolv_conf())?),
        user_mounts: user_mounts.oci,
        rootfs_propagation: spec::mounts::rootfs_propagation(&plan.mount_requests),
    };
    let mut spec = spec::build(&plan.image_config, &plan.opts, &ctx)?;
    set_resources(&mut spec, &plan.host_config, id);
    if plan.init {
        let mut a = spec.annotations().clone().unwrap_or_default();
        a.insert(
            crate::runtime::tiny_init::ANNOTATION.to_string(),
            "true".to_string(),
        );
        spec.set_annotations(Some(a));
    }
    super::userns::apply(&mut spec, ids.as_ref())?;
    crate::dataroot::write_json_private(&dir.join("config.json"), &spec)
        .context("write config.json")?;
    drop(ids);
    // From here on the container exists and the monitor owns it: it unmounts the overlay
    // when the container ends (or fails to start, leaving it "Created" as Docker does) and
    // removes everything with --rm.
    undo.disarm();
    Ok(spec)
}

/// A creation error as the client reports it: nsbox's exit code and one line, the
/// chain as main.rs prints it ("outer: inner: root cause", repeats dropped).
fn failure(e: anyhow::Error) -> MonitorError {
    MonitorError::Failed {
        code: super::exit_code_of(&e, true),
        msg: super::one_line(&e),
    }
}

/// Reserve the given name, or a generated one: on a collision (two containers whose ids
/// start alike) the next try adds a number.
fn reserve_name(containers: &Containers, given: Option<&str>, id: &str) -> Result<String> {
    if let Some(n) = given {
        containers.claim_name(id, n)?;
        return Ok(n.to_string());
    }
    let mut attempt = 0;
    loop {
        let name = state::generated_name(id, attempt);
        match containers.claim_name(id, &name) {
            Ok(_) => return Ok(name),
            Err(state::StateError::NameInUse(..)) if attempt < 1000 => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Fork the container's monitor, which first runs `prepare` (making the container, or
/// loading a saved one's spec), then starts it; stay attached unless `detach`.
/// Returns nsbox's exit status. Shared by `run`, `run --bundle` and `start`.
pub fn launch(
    root: &DataRoot,
    id: &str,
    prepare: impl FnOnce() -> Result<Spec, MonitorError>,
    detach: bool,
    client: &ClientOptions,
) -> Result<i32> {
    // Compiled seccomp filters are kept by profile digest (runtime/seccomp.rs).
    crate::runtime::seccomp::use_cache_dir(root.path().join("cache").join("seccomp"));
    // Blocked before the fork so that none is lost (the client reads them from a
    // signalfd), and so that none kills the monitor before it has its own session.
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_BLOCK,
        Some(&crate::runtime::process::monitored_signals()),
        None,
    )?;
    match monitor::spawn(root, id, detach, prepare) {
        Ok(Started::Detached) => Ok(0),
        Ok(Started::Attached { chan, master }) => {
            match monitor::client::attach(&chan, master, client, false)? {
                End::Exited(code) => Ok(code),
                End::Detached => Ok(0),
            }
        }
        Err(MonitorError::Failed { code, msg }) => Err(ExitError::new(code, msg).into()),
        Err(e) => Err(e.into()),
    }
}

fn client_options(args: &RunArgs) -> Result<ClientOptions> {
    if args.tty && args.interactive && !std::io::stdin().is_terminal() {
        return Err(ExitError::new(1, "the input device is not a TTY").into());
    }
    Ok(ClientOptions {
        sig_proxy: args.sig_proxy,
        stdin: args.interactive,
        detach_keys: monitor::client::parse_detach_keys(&args.detach_keys)
            .map_err(|e| ExitError::new(EXIT_NSBOX, e))?,
    })
}

/// The limits into `linux.resources` (keeping the spec's device rules), and the
/// cgroup below `--cgroup-parent` when one is given.
fn set_resources(spec: &mut Spec, o: &ResourceOptions, id: &str) {
    let mut resources = spec::resources::to_linux(o);
    if let Some(linux) = spec.linux_mut() {
        resources.set_devices(linux.resources().as_ref().and_then(|r| r.devices().clone()));
        linux.set_resources(Some(resources));
        if !o.cgroup_parent.is_empty() {
            linux.set_cgroups_path(Some(PathBuf::from(format!(
                "{}/nsbox-{id}",
                o.cgroup_parent.trim_end_matches('/')
            ))));
        }
    }
}

/// Run a plain OCI bundle: its config.json as is, its rootfs relative to the bundle.
/// Like `crun run`, the container is deleted when it exits.
fn run_bundle(
    root: &DataRoot,
    bundle: &Path,
    args: &RunArgs,
    client: &ClientOptions,
) -> Result<i32> {
    let bundle =
        fs::canonicalize(bundle).with_context(|| format!("bundle {}", bundle.display()))?;
    let spec = Spec::load(bundle.join("config.json"))
        .with_context(|| format!("load {}/config.json", bundle.display()))?;
    let root_path = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_else(|| PathBuf::from("rootfs"));
    let rootfs = bundle.join(root_path);
    let containers = Containers::open(root)?;
    let id = match &args.name {
        Some(n) => n.clone(),
        None => state::new_id().context("generate container id")?,
    };
    let process = spec.process().as_ref();
    let dir = containers.dir_of(&id);
    let st = ContainerState {
        auto_remove: true,
        tty: process.and_then(|p| p.terminal()).unwrap_or(false),
        interactive: args.interactive,
        log_path: dir.join("container.log"),
        ..ContainerState::new(
            id.clone(),
            id.clone(),
            process.and_then(|p| p.args().clone()).unwrap_or_default(),
            bundle,
            rootfs,
        )
    };
    // Made in the monitor, like `run`'s containers.
    let prepare = || -> Result<Spec, MonitorError> {
        let mut undo = Undo {
            containers: &containers,
            name: None,
            dir: None,
            merged: None,
            volumes: None,
        };
        let (monitor_pid, monitor_start) = state::own_process();
        containers
            .create(&ContainerState {
                monitor_pid,
                monitor_start,
                ..st
            })
            .map_err(|e| failure(e.into()))?;
        undo.dir = Some(dir.clone());
        containers
            .reserve_name(&id, &id)
            .map_err(|e| failure(e.into()))?;
        undo.disarm();
        Ok(spec)
    };
    let code = launch(root, &id, prepare, args.detach, client)?;
    if args.detach {
        println!("{id}");
    }
    Ok(code)
}

/// Whatever a failed run created, removed in reverse order when dropped.
struct Undo<'a> {
    containers: &'a Containers,
    name: Option<String>,
    dir: Option<PathBuf>,
    merged: Option<PathBuf>,
    /// Volumes made for a container that never came to exist.
    volumes: Option<(&'a Volumes, Vec<String>)>,
}

impl Undo<'_> {
    /// Everything made is kept: the container exists.
    fn disarm(&mut self) {
        self.name = None;
        self.dir = None;
        self.merged = None;
        self.volumes = None;
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if let Some((volumes, names)) = &self.volumes {
            for n in names {
                let _ = volumes.remove(n);
            }
        }
        if let Some(m) = &self.merged {
            let _ = overlay::unmount(m);
        }
        if let Some(n) = &self.name {
            self.containers.release_name(n);
        }
        if let Some(d) = &self.dir {
            let _ = fs::remove_dir_all(d);
        }
    }
}

fn run_options(args: &RunArgs, cmd: Vec<String>) -> Result<RunOptions> {
    let host = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for f in &args.env_file {
        let text = fs::read_to_string(f).with_context(|| format!("open {}", f.display()))?;
        env.extend(spec::expand_env_args(&spec::parse_env_file(&text)?, host));
    }
    // A bare `-e K` unset here stays bare: it removes K from the image's env, as in Docker.
    env.extend(spec::expand_env_flags(&args.env, host));
    // With the host's network the container has the host's name (Docker).
    let hostname = match (&args.hostname, args.network) {
        (None, Network::Host) => nix::unistd::gethostname()
            .ok()
            .map(|h| h.to_string_lossy().into_owned()),
        (h, _) => h.clone(),
    };
    Ok(RunOptions {
        env,
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        hostname,
        entrypoint: args.entrypoint.clone(),
        cmd,
        network: match args.network {
            Network::None => NetworkMode::None,
            Network::Host => NetworkMode::Host,
        },
        read_only: args.read_only,
        tty: args.tty,
        security: args.security.to_options()?,
    })
}

/// USER against the image's own /etc/passwd and /etc/group, opened inside the merged
/// rootfs (an image cannot point us at the host's), refused unless regular files of at
/// most `user::USER_DB_LIMIT` bytes (a fifo would block us, a huge file eat memory).
pub(super) fn resolve_user(merged: &Path, user: &str) -> Result<spec::ResolvedUser> {
    let root = InRoot::open(merged)?;
    let read = |p: &str| -> Result<String> {
        let bytes = root.read_config_file(Path::new(p), spec::user::USER_DB_LIMIT)?;
        Ok(bytes
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default())
    };
    Ok(spec::resolve_user(
        user,
        &read("/etc/passwd")?,
        &read("/etc/group")?,
    )?)
}

/// `--group-add` names against the image's own /etc/group, read inside the root.
fn resolve_groups(merged: &Path, names: &[String]) -> Result<Vec<u32>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let root = InRoot::open(merged)?;
    let group = root
        .read_config_file(Path::new("/etc/group"), spec::user::USER_DB_LIMIT)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(spec::user::group_ids(names, &group)?)
}

fn write_file(path: &Path, content: &str) -> Result<PathBuf> {
    fs::write(path, content).with_context(|| format!("write {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// The host's resolv.conf without loopback nameservers (unreachable from the
/// container's own network namespace); Docker's public defaults if none remain.
fn resolv_conf() -> String {
    let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let t = line.trim();
        if let Some(ns) = t.strip_prefix("nameserver") {
            let ns = ns.trim();
            if ns.starts_with("127.") || ns == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

impl RunArgs {
    /// `--log-opt max-size=..` / `max-file=..` over the defaults.
    fn log_options(&self) -> Result<LogOptions> {
        let mut o = LogOptions::default();
        for opt in &self.log_opt {
            let bad = || ExitError::new(EXIT_NSBOX, format!("invalid log option: {opt}"));
            match opt.split_once('=') {
                Some(("max-size", v)) => {
                    o.max_size = spec::resources::parse_size(v)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(bad)? as u64
                }
                Some(("max-file", v)) => {
                    o.max_files = v.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?
                }
                _ => return Err(bad().into()),
            }
        }
        Ok(o)
    }
}
