//! nsbox: a container runtime you can read.

mod cli;
mod dataroot;
mod explain;
mod image;
mod monitor;
mod runtime;
mod scratch;
mod spec;
mod state;
mod storage;

use clap::{Parser, Subcommand};
use dataroot::DataRoot;
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and --version are not failures; bad flags are nsbox failures (125).
            let code = if e.use_stderr() { cli::EXIT_NSBOX } else { 0 };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
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
        Err(err) => {
            eprintln!("nsbox: {}", one_line(&err));
            ExitCode::from(cli::exit_code_of(&err) as u8)
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

/// anyhow's chain as one line: "outer: inner: root cause".
fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}
