//! Image verbs: load, import, images, rmi, and the `image` group (load, import, ls, rm, inspect).
use super::{human, ExitError};
use crate::dataroot::DataRoot;
use crate::image::{short, ImageRecord, ImageStore};
use clap::{Args, Subcommand};
use std::io::IsTerminal;
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

/// `nsbox import` / `nsbox image import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A root filesystem as a tar (plain or gzip).
    pub file: PathBuf,
    /// NAME[:TAG] for the new image.
    pub reference: String,
}

/// `nsbox images` / `nsbox image ls`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `nsbox rmi` / `nsbox image rm`.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove the image even if it has several tags (or a container uses it: untag only).
    #[arg(short, long)]
    pub force: bool,
    /// Images to remove: name[:tag], id or id prefix.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `nsbox image inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Top-level image verbs (flattened into `nsbox <verb>`).
#[derive(Debug, Subcommand)]
pub enum ImageCommands {
    /// Load an image from a tar archive or an OCI layout directory.
    Load(LoadArgs),
    /// Import a root filesystem tarball as a one-layer image.
    Import(ImportArgs),
    /// List images.
    Images(ImagesArgs),
    /// Remove one or more images.
    Rmi(RmiArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
}

/// `nsbox image ...`
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Load an image from a tar archive or an OCI layout directory.
    Load(LoadArgs),
    /// Import a root filesystem tarball as a one-layer image.
    Import(ImportArgs),
    /// List images.
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images.
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Show the details of images as JSON.
    Inspect(InspectArgs),
}

pub fn load(root: &DataRoot, args: LoadArgs) -> anyhow::Result<()> {
    let store = ImageStore::open(root)?;
    let progress = !args.quiet && std::io::stderr().is_terminal();
    // docker load fails with exit 1, whatever is wrong with the input.
    let loaded = store
        .load(&args.input, progress)
        .map_err(|e| ExitError::new(1, e.to_string()))?;
    for rec in loaded {
        // docker load prints these even with -q.
        if rec.repo_tags.is_empty() {
            println!("Loaded image ID: {}", rec.id);
        }
        for t in &rec.repo_tags {
            println!("Loaded image: {t}");
        }
    }
    Ok(())
}

pub fn import(root: &DataRoot, args: ImportArgs) -> anyhow::Result<()> {
    let store = ImageStore::open(root)?;
    let rec = store.import(&args.file, &args.reference)?;
    println!("{}", rec.id);
    Ok(())
}

pub fn images(root: &DataRoot, args: ImagesArgs) -> anyhow::Result<()> {
    let store = ImageStore::open(root)?;
    let list = store.list()?;
    if args.quiet {
        for rec in &list {
            println!("{}", short(&rec.id));
        }
        return Ok(());
    }
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    for rec in &list {
        let created = created_ago(rec, now);
        let size = human::size(rec.size);
        let tags = if rec.repo_tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            rec.repo_tags.clone()
        };
        for t in tags {
            let (repo, tag) = split_tag(&t);
            rows.push(vec![
                repo.to_string(),
                tag.to_string(),
                short(&rec.id).to_string(),
                created.clone(),
                size.clone(),
            ]);
        }
    }
    print!(
        "{}",
        human::table(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows)
    );
    Ok(())
}

pub fn rmi(root: &DataRoot, args: RmiArgs) -> anyhow::Result<()> {
    let store = ImageStore::open(root)?;
    let mut first_err = None;
    // Like docker: go on with the other images, fail at the end.
    for r in &args.images {
        match store.remove(r, args.force) {
            Ok(events) => events.iter().for_each(|e| println!("{e}")),
            Err(e) => {
                if first_err.is_some() {
                    eprintln!("nsbox: {e}");
                } else {
                    first_err = Some(e);
                }
            }
        }
    }
    match first_err {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

pub fn inspect(root: &DataRoot, args: InspectArgs) -> anyhow::Result<()> {
    let store = ImageStore::open(root)?;
    let mut out = Vec::new();
    let mut first_err = None;
    for r in &args.images {
        match store.resolve(r).and_then(|rec| store.inspect_json(&rec)) {
            Ok(v) => out.push(v),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    match first_err {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

pub fn dispatch(root: &DataRoot, cmd: ImageCommands) -> anyhow::Result<()> {
    match cmd {
        ImageCommands::Load(a) | ImageCommands::Image(ImageCommand::Load(a)) => load(root, a),
        ImageCommands::Import(a) | ImageCommands::Image(ImageCommand::Import(a)) => import(root, a),
        ImageCommands::Images(a) | ImageCommands::Image(ImageCommand::Ls(a)) => images(root, a),
        ImageCommands::Rmi(a) | ImageCommands::Image(ImageCommand::Rm(a)) => rmi(root, a),
        ImageCommands::Image(ImageCommand::Inspect(a)) => inspect(root, a),
    }
}

/// "busybox:latest" → ("busybox", "latest"); the tag is after the last ':' past the last '/'.
fn split_tag(t: &str) -> (&str, &str) {
    let slash = t.rfind('/').map(|i| i + 1).unwrap_or(0);
    match t[slash..].rfind(':') {
        Some(i) => (&t[..slash + i], &t[slash + i + 1..]),
        None => (t, "<none>"),
    }
}

fn created_ago(rec: &ImageRecord, now: chrono::DateTime<chrono::Utc>) -> String {
    rec.created
        .as_deref()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| {
            format!(
                "{} ago",
                human::duration_secs((now - t.with_timezone(&chrono::Utc)).num_seconds())
            )
        })
        .unwrap_or_else(|| "N/A".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_tags() {
        assert_eq!(split_tag("busybox:latest"), ("busybox", "latest"));
        assert_eq!(split_tag("localhost:5000/a:1"), ("localhost:5000/a", "1"));
    }
}
