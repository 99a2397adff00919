//! `nsbox run`.
use crate::dataroot::DataRoot;
use clap::Args;

#[derive(Debug, Args)]
pub struct RunArgs {}

pub fn run(_root: &DataRoot, _args: RunArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented")
}
