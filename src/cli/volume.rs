//! `nsbox volume create|ls|inspect|rm|prune`.

use crate::dataroot::DataRoot;
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {}

pub fn dispatch(_root: &DataRoot, cmd: VolumeCommand) -> Result<()> {
    match cmd {}
}
