//! runc's command line, as clap structs: global flags, then one struct per verb. Names,
//! short flags and defaults are runc's, so engines' calls parse unchanged.

use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Where runc keeps its records by default is /run/runc; ours is beside it.
pub const DEFAULT_ROOT: &str = "/run/nsbox-runtime";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ListFormat {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Directory for the containers' state.
    #[arg(long, global = true, default_value = DEFAULT_ROOT, env = "NSBOX_RUNTIME_ROOT")]
    pub root: PathBuf,
    /// Log file (default: stderr).
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Debug logging.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Place cgroups the systemd way (`slice:prefix:name` cgroupsPath).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility (true, false or auto).
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Narrate every kernel step (to stderr, or the --log file).
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "text")]
    pub explain: Option<String>,
    /// Accepted for runc compatibility (criu path).
    #[arg(long, global = true, hide = true)]
    pub criu: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Create a container: everything is set up, its process waits for `start`.
    Create(CreateArgs),
    /// Start a created container's process.
    Start(IdArg),
    /// Create and start a container, and wait for it (unless --detach).
    Run(RunArgs),
    /// Print the container's OCI state as JSON.
    State(IdArg),
    /// Send a signal to the container's init (or all its processes).
    Kill(KillArgs),
    /// Delete a stopped (or, with --force, any) container.
    Delete(DeleteArgs),
    /// Run one more process in a running container.
    Exec(ExecArgs),
    /// List the processes of a container.
    Ps(PsArgs),
    /// Freeze all processes of a container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Change a running container's resource limits.
    Update(UpdateArgs),
    /// Print container events (OOM, and stats with --stats).
    Events(EventsArgs),
    /// Print what this runtime supports, as JSON (OCI features).
    Features,
    /// Write a default config.json for a bundle.
    Spec(SpecArgs),
    /// List the containers under --root.
    #[command(alias = "ls")]
    List(ListArgs),
}

impl Verb {
    pub fn name(&self) -> &'static str {
        match self {
            Verb::Create(_) => "create",
            Verb::Start(_) => "start",
            Verb::Run(_) => "run",
            Verb::State(_) => "state",
            Verb::Kill(_) => "kill",
            Verb::Delete(_) => "delete",
            Verb::Exec(_) => "exec",
            Verb::Ps(_) => "ps",
            Verb::Pause(_) => "pause",
            Verb::Resume(_) => "resume",
            Verb::Update(_) => "update",
            Verb::Events(_) => "events",
            Verb::Features => "features",
            Verb::Spec(_) => "spec",
            Verb::List(_) => "list",
        }
    }
}

#[derive(Debug, Args)]
pub struct IdArg {
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The bundle: the directory holding config.json.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to send the pty master to (SCM_RIGHTS), when process.terminal is set.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Write the container's init pid here.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// chroot-like root change (MS_MOVE) instead of pivot_root.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep the caller's session keyring.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many fds beyond stdio (3, 4, …) into the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once started; the container runs on.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's record when it exits.
    #[arg(long = "keep")]
    pub keep: bool,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal every process in the container's cgroup.
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    /// Signal name (KILL, SIGKILL) or number; default SIGTERM.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill a running container first.
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A process.json (OCI process) to run instead of the command line.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(short, long)]
    pub tty: bool,
    #[arg(long)]
    pub cwd: Option<String>,
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_NET_ADMIN).
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for runc compatibility.
    #[arg(long = "apparmor")]
    pub apparmor: Option<String>,
    /// Accepted for runc compatibility.
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Exec in a sub-cgroup of the container's (v2) or controller:path (v1).
    #[arg(long = "cgroup")]
    pub cgroup: Vec<String>,
    pub id: String,
    /// COMMAND [ARG...] when no --process is given.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// table or json (json: the pids).
    #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    pub id: String,
    /// Options passed to ps(1) for the table format.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// LinuxResources JSON from a file, or "-" for stdin.
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with k/m/g).
    #[arg(short, long)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    #[arg(long = "l3-cache-schema", hide = true)]
    pub l3_cache_schema: Option<String>,
    #[arg(long = "mem-bw-schema", hide = true)]
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Print one stats event and exit.
    #[arg(long)]
    pub stats: bool,
    /// Stats interval (runc's duration syntax: 5s, 100ms).
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Where to write config.json.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for a rootless container (user namespace, mappings of the caller).
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Only the ids.
    #[arg(short, long)]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> crate::cli::oci::Cli {
        crate::cli::oci::Cli::try_parse_from(args).unwrap()
    }

    #[test]
    fn containerd_create_line_parses() {
        let c = parse(&[
            "nsbox-runtime",
            "--root",
            "/r",
            "--log",
            "/l.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "abc",
        ]);
        assert_eq!(c.global.root, PathBuf::from("/r"));
        assert_eq!(c.global.log_format, LogFormat::Json);
        match c.verb {
            Verb::Create(a) => {
                assert_eq!(a.bundle, PathBuf::from("/b"));
                assert_eq!(a.id, "abc");
            }
            v => panic!("{}", v.name()),
        }
    }

    #[test]
    fn kill_and_exec_lines_parse() {
        match parse(&["r", "kill", "--all", "abc", "KILL"]).verb {
            Verb::Kill(k) => assert!(k.all && k.signal == "KILL"),
            v => panic!("{}", v.name()),
        }
        match parse(&["r", "exec", "-t", "abc", "sh", "-c", "echo hi"]).verb {
            Verb::Exec(e) => assert_eq!(e.command, ["sh", "-c", "echo hi"]),
            v => panic!("{}", v.name()),
        }
        match parse(&[
            "r",
            "--systemd-cgroup",
            "exec",
            "--process",
            "/p.json",
            "--detach",
            "abc",
        ])
        .verb
        {
            Verb::Exec(e) => assert!(e.detach && e.command.is_empty()),
            v => panic!("{}", v.name()),
        }
    }
}
