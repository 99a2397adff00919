//! Image verbs: load, import, images, rmi, and the `image` group (load, import, ls, rm, inspect).
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
    for rec in store.load(&args.input, progress)? {
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
    let mut rows = vec![["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"].map(String::from)];
    for rec in &list {
        let created = created_ago(rec, now);
        let size = human_size(rec.size);
        let tags = if rec.repo_tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            rec.repo_tags.clone()
        };
        for t in tags {
            let (repo, tag) = split_tag(&t);
            rows.push([
                repo.to_string(),
                tag.to_string(),
                short(&rec.id).to_string(),
                created.clone(),
                size.clone(),
            ]);
        }
    }
    print!("{}", table(&rows));
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
                human_duration((now - t.with_timezone(&chrono::Utc)).num_seconds())
            )
        })
        .unwrap_or_else(|| "N/A".to_string())
}

/// Docker's units.HumanDuration.
fn human_duration(secs: i64) -> String {
    let hours = (secs + 1800) / 3600; // rounded, as Go's d.Round(time.Hour)
    match secs {
        s if s < 1 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s / 60 == 1 => "About a minute".into(),
        s if s / 60 < 60 => format!("{} minutes", s / 60),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        s => format!("{} years", s / 3600 / 24 / 365),
    }
}

/// Docker's units.HumanSizeWithPrecision(size, 3): decimal units, 3 significant digits.
fn human_size(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let s = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    // %g drops trailing zeros.
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

/// Columns padded to their widest cell plus three spaces, as Docker's tabwriter.
fn table(rows: &[[String; 5]]) -> String {
    let mut widths = [0usize; 5];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                line.push_str(&format!("{c:<w$}", w = widths[i] + 3));
            } else {
                line.push_str(c);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(2_070_000), "2.07MB");
        assert_eq!(human_size(2_140_160), "2.14MB");
        assert_eq!(human_size(12_300_000), "12.3MB");
        assert_eq!(human_size(1_000_000), "1MB");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(30), "30 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(2 * 3600), "2 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(56 * 365 * 86400), "56 years");
    }

    #[test]
    fn splits_tags() {
        assert_eq!(split_tag("busybox:latest"), ("busybox", "latest"));
        assert_eq!(split_tag("localhost:5000/a:1"), ("localhost:5000/a", "1"));
    }
}
