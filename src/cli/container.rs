//! Container verbs: ps, rm.
use crate::dataroot::DataRoot;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ContainerCommands {}

pub fn dispatch(_root: &DataRoot, cmd: ContainerCommands) -> anyhow::Result<()> {
    match cmd {}
}
