//! The Docker personality: `nsbox COMMAND`, clap → command group → print, with Docker's exit codes.

use crate::cli;
use crate::dataroot::{self, DataRoot};
use crate::runtime;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "nsbox",
    version,
    about = "Run processes in containers: namespaces, cgroups, overlayfs"
)]
struct Cli {
    /// Data root for images, layers, containers and volumes.
    #[arg(long, global = true, env = "NSBOX_ROOT", default_value = dataroot::DEFAULT_ROOT)]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create and run a container from an image (or an OCI bundle with --bundle).
    Run(Box<cli::run::RunArgs>),
    #[command(flatten)]
    Container(cli::container::ContainerCommands),
    #[command(flatten)]
    Image(cli::image::ImageCommands),
    #[command(flatten)]
    Layers(cli::layers::Commands),
    #[command(flatten)]
    Machinery(cli::machinery::Commands),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(cli::volume::VolumeCommand),
    /// Manage nsbox: disk usage, pruning unused data.
    #[command(subcommand)]
    System(cli::system::SystemCommand),
}

/// `nsbox …` as Docker's CLI: parse, open the data root, dispatch, map errors to exit codes.
pub fn main() -> ExitCode {
    quiet_on_closed_output();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            // Help and --version are not failures; neither is `nsbox volume` alone (Docker
            // shows the group's help).
            let mut out = std::io::stdout().lock();
            return match write!(out, "{}", e.render()).and_then(|()| out.flush()) {
                Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                    cli::report(&cli::OutputError(err).into());
                    ExitCode::from(cli::EXIT_NSBOX as u8)
                }
                _ => ExitCode::SUCCESS,
            };
        }
        Err(e) => {
            // Bad flags are nsbox failures (125): one line and a hint, as Docker prints them.
            let (line, hint) = cli::clap_error_lines(&e);
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
            if let Some(hint) = hint {
                let _ = writeln!(err, "{hint}");
            }
            return ExitCode::from(cli::EXIT_NSBOX as u8);
        }
    };
    let in_run = matches!(cli.command, Command::Run(_));
    let root = match DataRoot::open(cli.root) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nsbox: {e}");
            return ExitCode::from(cli::EXIT_NSBOX as u8);
        }
    };
    // CVE-2019-5736: what runs containers runs from a sealed view of the nsbox binary.
    if runs_container_code(&cli.command) {
        if let Err(e) = runtime::cloned_binary::ensure_sealed(&root.empty_dir()) {
            eprintln!("nsbox: {e}");
            return ExitCode::from(cli::EXIT_NSBOX as u8);
        }
    }
    let result = match cli.command {
        Command::Run(args) => cli::run::run(&root, *args),
        Command::Container(cmd) => cli::container::dispatch(&root, cmd),
        Command::Image(cmd) => cli::image::dispatch(&root, cmd).map(|()| 0),
        Command::Layers(cmd) => cli::layers::dispatch(&root, cmd).map(|()| 0),
        Command::Machinery(cmd) => cli::machinery::dispatch(&root, cmd).map(|()| 0),
        Command::Volume(cmd) => cli::volume::dispatch(&root, cmd).map(|()| 0),
        Command::System(cmd) => cli::system::dispatch(&root, cmd).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        // `nsbox ps | head -1`: the reader has all it wanted; a quiet exit, as other CLIs.
        Err(err) if cli::is_closed_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            if !cli::is_reported(&err) {
                cli::report(&err);
            }
            ExitCode::from(cli::exit_code_of(&err, in_run) as u8)
        }
    }
}

/// The commands that run nsbox code inside a container's namespaces (init, --init, exec),
/// directly or through the monitor they fork.
fn runs_container_code(cmd: &Command) -> bool {
    use cli::container::ContainerCommands as C;
    matches!(
        cmd,
        Command::Run(_) | Command::Container(C::Exec(_) | C::Start(_) | C::Restart(_))
    )
}

/// `println!` panics when stdout cannot be written (a closed pipe, /dev/full). Commands print
/// through `cli::out!` where they can; this catches the rest: a closed pipe ends the process
/// quietly (exit 0, as `ps | head` expects), any other write error is one line and exit 125,
/// never a panic's backtrace. Other panics keep the default report.
fn quiet_on_closed_output() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        let Some(what) = msg.strip_prefix("failed printing to ") else {
            return default(info);
        };
        let broken_pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe).to_string();
        if what.contains(&broken_pipe) || what.contains("os error 32") {
            std::process::exit(0);
        }
        let _ = writeln!(std::io::stderr().lock(), "nsbox: write to {what}");
        std::process::exit(cli::EXIT_NSBOX);
    }));
}
