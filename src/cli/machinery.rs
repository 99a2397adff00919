//! Stub: filled in by its issue.

use crate::dataroot::DataRoot;
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Commands {}

pub fn dispatch(_root: &DataRoot, cmd: Commands) -> Result<()> {
    match cmd {}
}
