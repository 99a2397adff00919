//! `nsbox run`: image → OCI spec + overlay rootfs → runtime → monitor → state.
//! With `--bundle DIR` it runs a plain OCI bundle, exactly as `crun run` would.

use super::mounts::{self, MountFlags};
use super::resources::ResourceArgs;
use super::{ExitError, EXIT_NSBOX};
use crate::dataroot::DataRoot;
use crate::explain;
use crate::image::ImageStore;
use crate::monitor::{self, MonitorOptions};
use crate::runtime::{self, rootfs::secure_join, RuntimeError};
use crate::spec::resources::ResourceOptions;
use crate::spec::{self, NetworkMode, RunOptions, SpecContext};
use crate::state::{self, ContainerState, Containers, Status};
use crate::storage::overlay::{self, OverlayPaths};
use crate::storage::volumes::Volumes;
use anyhow::{Context, Result};
use clap::{ArgAction, Args, ValueEnum};
use oci_spec::runtime::Spec;
use std::fs;
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
    /// Proxy received signals to the process.
    #[arg(long = "sig-proxy", default_value_t = true, action = ArgAction::Set)]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Parent cgroup for the container (absolute, or relative to nsbox's own cgroup).
    #[arg(long = "cgroup-parent")]
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
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    pub args: Vec<String>,
}

pub fn run(root: &DataRoot, args: RunArgs) -> Result<i32> {
    match args.explain {
        Some(ExplainFormat::Text) => explain::enable(explain::Mode::Text),
        Some(ExplainFormat::Json) => explain::enable(explain::Mode::Json),
        None => {}
    }
    if let Some(bundle) = &args.bundle {
        return run_bundle(root, bundle, &args);
    }
    let Some((image_ref, cmd)) = args.args.split_first() else {
        return Err(ExitError::new(
            EXIT_NSBOX,
            "\"nsbox run\" requires at least 1 argument: IMAGE [COMMAND] [ARG...]",
        )
        .into());
    };
    let opts = run_options(&args, cmd.to_vec())?;
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

    let id = state::new_id().context("generate container id")?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| state::generated_name(&id));
    let dir = containers.dir_of(&id);
    let paths = OverlayPaths::for_container(&dir, lower.clone());
    let volumes = Volumes::open(root)?;
    let mut undo = Undo {
        containers: &containers,
        name: None,
        dir: None,
        merged: None,
        volumes: None,
    };

    containers.reserve_name(&name, &id)?;
    undo.name = Some(name.clone());
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    undo.dir = Some(dir.clone());
    overlay::mount_overlay(&root.overlay(), &paths)?;
    undo.merged = Some(paths.merged.clone());
    let user_mounts = mounts::prepare(&volumes, &mount_requests, &paths.merged)?;
    undo.volumes = Some((&volumes, user_mounts.created.clone()));

    let user = resolve_user(&paths.merged, &spec::effective_user(&image_config, &opts))?;
    let hostname = opts
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
        rootfs_propagation: spec::mounts::rootfs_propagation(&mount_requests),
    };
    let mut spec = spec::build(&image_config, &opts, &ctx)?;
    set_resources(&mut spec, &host_config, &id);
    spec.save(dir.join("config.json"))
        .context("write config.json")?;

    let mut st = ContainerState {
        image: image_ref.clone(),
        image_id: image.id.clone(),
        auto_remove: args.rm,
        lower_dirs: lower,
        host_config,
        mounts: user_mounts.points,
        ..ContainerState::new(
            id.clone(),
            name.clone(),
            process_args,
            dir.clone(),
            paths.merged.clone(),
        )
    };
    containers.save(&st)?;
    // From here on the container exists: a start failure leaves it "Created" (as Docker
    // does) unless --rm, and the overlay is always unmounted.
    undo.name = None;
    undo.dir = None;
    undo.volumes = None;
    if args.rm {
        undo.name = Some(name.clone());
        undo.dir = Some(dir.clone());
    }

    let exit = execute(&containers, &mut st, &spec, monitor_options(&args));
    if !args.rm {
        // Keep limits changed by `nsbox update` while the container ran.
        let saved = containers.update(&st.id, |s| {
            let host_config = std::mem::take(&mut s.host_config);
            *s = st.clone();
            s.host_config = host_config;
        });
        // `nsbox rm -f` from elsewhere may have removed it meanwhile: nothing left to record.
        if let Err(e) = saved {
            if dir.join("state.json").exists() {
                return Err(e.into());
            }
        }
    }
    drop(undo);
    if args.rm {
        mounts::remove_anonymous_volumes(root, &st)?;
    }
    exit
}

/// Launch, start, supervise, record. Shared by the image and the bundle paths.
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

fn monitor_options(args: &RunArgs) -> MonitorOptions {
    MonitorOptions {
        sig_proxy: args.sig_proxy,
        stdin_to_pty: args.interactive,
    }
}

/// Launch, start, supervise; the caller saves the final state (or removes it, --rm).
fn execute(
    containers: &Containers,
    st: &mut ContainerState,
    spec: &Spec,
    opts: MonitorOptions,
) -> Result<i32> {
    let mut launched = runtime::create(spec, &st.rootfs, &st.id).map_err(runtime_error)?;
    launched.start().map_err(runtime_error)?;
    st.status = Status::Running;
    st.pid = launched.pid;
    st.pid_start = state::proc_start_time(launched.pid).unwrap_or(0);
    st.started_at = Some(state::now_rfc3339());
    st.cgroup = launched.cgroup.as_ref().map(|c| c.reference.clone());
    containers.save(st)?;

    let exit = monitor::supervise(&launched, opts)?;
    st.status = Status::Exited;
    st.exit_code = Some(exit.code);
    st.finished_at = Some(state::now_rfc3339());
    st.pid = 0;
    if let Some(cg) = launched.cgroup.take() {
        st.oom_killed = cg.oom_kills() > 0;
        cg.remove()?;
    }
    explain::step("exit", || format!("status {}", exit.code));
    Ok(exit.code)
}

fn runtime_error(e: RuntimeError) -> anyhow::Error {
    ExitError::new(e.exit_code(), e.to_string()).into()
}

/// Run a plain OCI bundle: its config.json as is, its rootfs relative to the bundle.
/// Like `crun run`, the container is deleted when it exits.
fn run_bundle(root: &DataRoot, bundle: &Path, args: &RunArgs) -> Result<i32> {
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
    let dir = containers.dir_of(&id);
    containers.reserve_name(&id, &id)?;
    let mut undo = Undo {
        containers: &containers,
        name: Some(id.clone()),
        dir: None,
        merged: None,
        volumes: None,
    };
    fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
    undo.dir = Some(dir);
    let command = spec
        .process()
        .as_ref()
        .and_then(|p| p.args().clone())
        .unwrap_or_default();
    let mut st = ContainerState {
        auto_remove: true,
        ..ContainerState::new(id.clone(), id, command, bundle, rootfs)
    };
    let exit = execute(&containers, &mut st, &spec, monitor_options(args));
    drop(undo);
    exit
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
        if let Some(d) = &self.dir {
            let _ = fs::remove_dir_all(d);
        }
        if let Some(n) = &self.name {
            self.containers.release_name(n);
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
    })
}

/// USER against the image's own /etc/passwd and /etc/group, read through the merged
/// rootfs with symlinks resolved inside it (an image cannot point us at the host's).
fn resolve_user(merged: &Path, user: &str) -> Result<spec::ResolvedUser> {
    let read = |p: &str| -> String {
        secure_join(merged, Path::new(p))
            .ok()
            .and_then(|p| fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    Ok(spec::resolve_user(
        user,
        &read("/etc/passwd"),
        &read("/etc/group"),
    )?)
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
