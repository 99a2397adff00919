//! The runc personality: `nsbox-runtime VERB …` (or `nsbox runtime VERB …`), a drop-in for
//! runc as containerd's shim, conmon (podman) and dockerd call it. One file per verb group;
//! the container records live in `state` under `--root`.
//!
//! Exit codes follow runc: 0 on success, 1 on any failure (the message goes to stderr and,
//! with `--log`, to the log file in `--log-format`).

pub mod args;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod log;
pub mod pause;
pub mod ps;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use args::{Global, Verb};
use clap::Parser;
use std::process::ExitCode;

/// Errors of the OCI verbs. Each prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    #[error("container with id \"{0}\" already exists")]
    Exists(String),
    #[error("invalid container id \"{0}\": use letters, digits, '_', '+', '-' and '.'")]
    BadId(String),
    #[error("{0}")]
    State(#[from] state::StateError),
    #[error("{0}")]
    Runtime(#[from] crate::runtime::RuntimeError),
    #[error("{0}")]
    Other(String),
}

impl OciError {
    pub fn other(msg: impl Into<String>) -> Self {
        OciError::Other(msg.into())
    }
}

pub type Result<T> = std::result::Result<T, OciError>;

#[derive(Debug, Parser)]
#[command(
    name = "nsbox-runtime",
    version,
    about = "nsbox's OCI runtime command line (runc's verbs and flags)"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub verb: Verb,
}

/// `nsbox-runtime …`: `argv` from the verb's program name on (argv[0] first).
pub fn main(argv: Vec<std::ffi::OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let (line, _) = crate::cli::clap_error_lines(&e);
            eprintln!("{}", line.replacen("nsbox: ", "nsbox-runtime: ", 1));
            return ExitCode::from(1);
        }
    };
    let log = log::Log::open(&cli.global);
    match dispatch(&cli.global, cli.verb) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            log.error(&e.to_string());
            ExitCode::from(1)
        }
    }
}

/// Run one verb; Ok carries the exit status (non-zero only for `run` and foreground `exec`,
/// whose status is the container process's).
pub fn dispatch(g: &Global, verb: Verb) -> Result<i32> {
    match verb {
        Verb::Create(a) => create::create(g, a),
        Verb::Start(a) => start::start(g, a),
        Verb::Run(a) => create::run(g, a),
        Verb::State(a) => list::state(g, a),
        Verb::Kill(a) => kill::kill(g, a),
        Verb::Delete(a) => delete::delete(g, a),
        Verb::Exec(a) => exec::exec(g, a),
        Verb::Ps(a) => ps::ps(g, a),
        Verb::Pause(a) => pause::pause(g, a),
        Verb::Resume(a) => pause::resume(g, a),
        Verb::Update(a) => update::update(g, a),
        Verb::Events(a) => events::events(g, a),
        Verb::Features => features::features(g),
        Verb::Spec(a) => spec::spec(g, a),
        Verb::List(a) => list::list(g, a),
    }
}

/// What a verb not built yet answers.
pub(crate) fn not_yet(verb: &str) -> OciError {
    OciError::other(format!("{verb} is not implemented yet"))
}
