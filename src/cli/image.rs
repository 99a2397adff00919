//! Image verbs: load, import, images, rmi, and the `image` group (load, import, ls, rm, inspect).
use super::{human, ExitError};
use crate::dataroot::DataRoot;
use crate::image::{short, ImageRecord, ImageStore, Pruned, Removed};
use crate::state::Containers;
use clap::{Args, Subcommand};
use std::collections::HashSet;
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
    /// Remove unused images.
    Prune(PruneArgs),
}

/// `nsbox image prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=KEY[=VALUE]", "label!=KEY").
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
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
        ImageCommands::Image(ImageCommand::Prune(a)) => prune(root, a),
    }
}

fn prune(root: &DataRoot, args: PruneArgs) -> anyhow::Result<()> {
    let filter = PruneFilter::parse(&args.filters, chrono::Utc::now()).map_err(daemon)?;
    if !args.force {
        let what = if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        if !confirm(&format!("WARNING! This will remove {what}.\n"))? {
            return Ok(());
        }
    }
    let pruned = prune_images(root, args.all, &filter)?;
    print_deleted_images(&pruned.removed);
    println!("Total reclaimed space: {}", human::size(pruned.reclaimed));
    Ok(())
}

/// Docker's confirmation: the warning, then "Are you sure…"; only y or Y goes ahead (end
/// of input declines).
pub(super) fn confirm(warning: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    print!("{warning}Are you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

/// "Deleted Images:" and Docker's lowercase lines, then a blank line; nothing if none.
pub(super) fn print_deleted_images(removed: &[Removed]) {
    if removed.is_empty() {
        return;
    }
    println!("Deleted Images:");
    for r in removed {
        match r {
            Removed::Untagged(t) => println!("untagged: {t}"),
            Removed::Deleted(id) => println!("deleted: {id}"),
        }
    }
    println!();
}

/// Prune the images no container uses (dangling ones, or all with `all`) that `filter`
/// selects, then every blob and layer dir no image and no container references.
pub(super) fn prune_images(
    root: &DataRoot,
    all: bool,
    filter: &PruneFilter,
) -> anyhow::Result<Pruned> {
    let store = ImageStore::open(root)?;
    let containers = Containers::open(root)?.list()?;
    let in_use: HashSet<String> = containers.iter().map(|c| c.image_id.clone()).collect();
    // Layers a container mounts stay, whatever happened to its image.
    let keep_layers: HashSet<String> = containers
        .iter()
        .flat_map(|c| &c.lower_dirs)
        .filter_map(|d| d.parent()?.file_name()?.to_str().map(String::from))
        .collect();
    let select = |rec: &ImageRecord| {
        let labels = store
            .config(rec)
            .ok()
            .and_then(|c| c.config().as_ref().and_then(|c| c.labels().clone()))
            .unwrap_or_default();
        filter.matches(rec, &labels)
    };
    Ok(store.prune(all, &in_use, &keep_layers, &select)?)
}

fn daemon(msg: impl std::fmt::Display) -> anyhow::Error {
    ExitError::new(
        super::EXIT_NSBOX,
        format!("Error response from daemon: {msg}"),
    )
    .into()
}

/// `image prune`'s filters: `until=` (a Unix time, an RFC 3339 time or date, or a Go
/// duration before now), `label=KEY[=VALUE]`, `label!=KEY[=VALUE]`.
#[derive(Debug, Default)]
pub struct PruneFilter {
    until: Option<chrono::DateTime<chrono::Utc>>,
    labels: Vec<String>,
    not_labels: Vec<String>,
}

impl PruneFilter {
    pub fn parse(filters: &[String], now: chrono::DateTime<chrono::Utc>) -> Result<Self, String> {
        let mut f = PruneFilter::default();
        for raw in filters {
            let (k, v) = raw
                .split_once('=')
                .ok_or_else(|| format!("bad format of filter (expected name=value): {raw}"))?;
            // "label!=x" splits as ("label!", "x").
            match k.trim().to_ascii_lowercase().as_str() {
                "until" => {
                    let t = parse_until(v.trim(), now)
                        .ok_or_else(|| format!("invalid filter 'until={v}'"))?;
                    f.until = Some(f.until.map_or(t, |u| u.min(t)));
                }
                "label" => f.labels.push(v.trim().to_string()),
                "label!" => f.not_labels.push(v.trim().to_string()),
                other => return Err(format!("invalid filter '{other}'")),
            }
        }
        Ok(f)
    }

    /// Whether an image with these labels passes every filter.
    pub fn matches(
        &self,
        rec: &ImageRecord,
        labels: &std::collections::HashMap<String, String>,
    ) -> bool {
        let created = rec
            .created
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok());
        let old_enough = match (self.until, created) {
            (None, _) => true,
            (Some(u), Some(c)) => c.with_timezone(&chrono::Utc) < u,
            (Some(_), None) => false,
        };
        let has = |w: &String| match w.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
            None => labels.contains_key(w.as_str()),
        };
        old_enough
            && self.labels.iter().all(has)
            && (self.not_labels.is_empty() || !self.not_labels.iter().all(has))
    }
}

/// Docker's `until`: Unix seconds (with a fraction), an RFC 3339 time, a date or a
/// date-time without zone (UTC), or a Go duration ("90m", "1h30m", "24h") before `now`.
fn parse_until(
    v: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
    if let Ok(secs) = v.parse::<f64>() {
        let whole = secs.trunc() as i64;
        let nanos = ((secs - secs.trunc()) * 1e9) as u32;
        return Utc.timestamp_opt(whole, nanos).single();
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S") {
        return Some(Utc.from_utc_datetime(&t));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
    }
    go_duration(v).and_then(|d| now.checked_sub_signed(d))
}

/// A Go duration string ("1h30m", "90s", "1.5h") as a chrono duration.
fn go_duration(v: &str) -> Option<chrono::Duration> {
    let mut rest = v;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += n * scale;
    }
    chrono::Duration::try_milliseconds((total * 1000.0) as i64)
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
    fn until_takes_dockers_forms() {
        use chrono::TimeZone;
        let now = chrono::Utc.timestamp_opt(1_000_000, 0).unwrap();
        let at = |v: &str| parse_until(v, now).map(|t| t.timestamp());
        assert_eq!(at("999"), Some(999));
        assert_eq!(at("1h"), Some(1_000_000 - 3600));
        assert_eq!(at("1h30m"), Some(1_000_000 - 5400));
        assert_eq!(at("1970-01-02"), Some(86400));
        assert_eq!(at("1970-01-02T00:00:10Z"), Some(86410));
        assert_eq!(at("soon"), None);
        assert!(PruneFilter::parse(&["until=x".into()], now).is_err());
        assert!(PruneFilter::parse(&["dangling=true".into()], now).is_err());
        assert!(PruneFilter::parse(&["label!=a=b".into()], now).is_ok());
    }

    #[test]
    fn splits_tags() {
        assert_eq!(split_tag("busybox:latest"), ("busybox", "latest"));
        assert_eq!(split_tag("localhost:5000/a:1"), ("localhost:5000/a", "1"));
    }
}
