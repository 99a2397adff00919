//! Placeholder: the image helper replaces this file (load, import, images, rmi, image inspect).
use crate::dataroot::DataRoot;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `nsbox load` / `nsbox image load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// OCI layout dir, OCI archive tar, or docker-save tar.
    #[arg(short = 'i', long = "input")]
    pub input: PathBuf,
    /// Suppress the progress output.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Top-level image verbs (flattened into `nsbox <verb>`).
#[derive(Debug, Subcommand)]
pub enum ImageCommands {
    /// Load an image from a tar archive or an OCI layout directory.
    Load(LoadArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
}

/// `nsbox image ...`
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Load an image from a tar archive or an OCI layout directory.
    Load(LoadArgs),
}

pub fn load(_root: &DataRoot, _args: LoadArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented")
}

pub fn dispatch(root: &DataRoot, cmd: ImageCommands) -> anyhow::Result<()> {
    match cmd {
        ImageCommands::Load(a) | ImageCommands::Image(ImageCommand::Load(a)) => load(root, a),
    }
}
