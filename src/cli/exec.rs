//! `nsbox exec`: run one more command in a running container, in all of its namespaces and
//! its cgroup, with its root, environment and capabilities (`docker exec`).

use super::{run, ExitError};
use crate::dataroot::DataRoot;
use crate::monitor::session::{self, MonitorOptions, Watched};
use crate::runtime::{enter, RuntimeError, Stdio};
use crate::spec;
use crate::state::Containers;
use anyhow::{Context, Result};
use clap::{ArgAction, Args};
use oci_spec::runtime::{Spec, UserBuilder};
use std::io::IsTerminal;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background.
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Keep STDIN open.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// USER[:GROUP].
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Narrate every step in kernel terms on stderr.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "text", require_equals = true)]
    pub explain: Option<run::ExplainFormat>,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER COMMAND [ARG...]
    #[arg(
        required = true,
        num_args = 2..,
        trailing_var_arg = true,
        value_name = "CONTAINER COMMAND [ARG...]"
    )]
    pub args: Vec<String>,
}

pub fn exec(root: &DataRoot, a: ExecArgs) -> Result<i32> {
    run::enable_explain(a.explain);
    let (key, cmd) = a
        .args
        .split_first()
        .context("exec needs a container and a command")?;
    let containers = Containers::open(root)?;
    let st = containers.resolve(key)?;
    if !st.is_alive() {
        return Err(ExitError::new(1, format!("container {} is not running", st.id)).into());
    }
    if a.tty && a.interactive && !std::io::stdin().is_terminal() {
        return Err(ExitError::new(1, "the input device is not a TTY").into());
    }
    let spec = Spec::load(st.bundle.join("config.json")).context("load config.json")?;
    let mut process = spec
        .process()
        .clone()
        .context("the container's config.json has no process")?;
    let host = |k: &str| std::env::var(k).ok();
    let mut env = process.env().clone().unwrap_or_default();
    let mut extra = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f).with_context(|| format!("open {}", f.display()))?;
        extra.extend(spec::expand_env_args(&spec::parse_env_file(&text)?, host));
    }
    extra.extend(spec::expand_env_flags(&a.env, host));
    if let Some(u) = &a.user {
        let user = run::resolve_user(&st.rootfs, u)?;
        process.set_user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.additional_gids)
                .build()?,
        );
        if let Some(home) = user.home {
            extra.push(format!("HOME={home}"));
        }
    }
    for e in extra {
        let k = e.split('=').next().unwrap_or("").to_string();
        env.retain(|x| x.split('=').next() != Some(k.as_str()));
        if e.contains('=') {
            env.push(e);
        }
    }
    if let Some(w) = &a.workdir {
        if !w.starts_with('/') {
            return Err(ExitError::new(
                125,
                format!("the working directory '{w}' is invalid, it needs to be an absolute path"),
            )
            .into());
        }
        process.set_cwd(PathBuf::from(w));
    }
    process.set_env(Some(env));
    process.set_args(Some(cmd.to_vec()));
    process.set_terminal(Some(a.tty));

    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map(OwnedFd::from)?;
    let mut stdio = Stdio::default();
    if a.detach {
        stdio.fds = [Some(null.as_raw_fd()); 3];
    } else if !a.interactive {
        stdio.fds[0] = Some(null.as_raw_fd());
    }
    crate::runtime::seccomp::use_cache_dir(root.path().join("cache").join("seccomp"));
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let keyring = crate::runtime::keyring::session_name(&spec, &st.id);
    let entered = enter::spawn_in(
        st.pid,
        st.cgroup.as_ref(),
        keyring.as_deref(),
        &process,
        seccomp,
        stdio,
    )
    .map_err(|e: RuntimeError| ExitError::new(e.exit_code(), e.to_string()))?;
    if a.detach {
        return Ok(0);
    }
    let exit = session::supervise(
        &Watched {
            pid: entered.helper,
            pidfd: entered.helper_pidfd.as_fd(),
            pty_master: entered.pty_master.as_ref().map(|m| m.as_fd()),
        },
        MonitorOptions {
            sig_proxy: true,
            stdin_to_pty: a.interactive,
        },
    )?;
    Ok(exit.code)
}
