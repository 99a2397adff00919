//! Seeing the layers: diff, commit, export, save, history, and `layers` (per-layer stats, who
//! provides a path, wasted bytes). The work is in `image::{changes, commit, export, save,
//! analysis}`; this file resolves names, prints tables and JSON, and writes output files
//! by temp-then-rename.

use super::{human, out, outln, OutputError};
use crate::dataroot::DataRoot;
use crate::image::analysis::{self, LayerStats};
use crate::image::view::Stack;
use crate::image::{changes, commit, export, normalize, save, short, ImageRecord, ImageStore};
use crate::runtime::cgroups::freezer;
use crate::state::{ContainerState, Containers};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use std::fs;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Inspect changes to files or directories on a container's filesystem (A/C/D).
    Diff(DiffArgs),
    /// Create a new image from a container's changes.
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive.
    Export(ExportArgs),
    /// Save one or more images to an OCI archive.
    Save(SaveArgs),
    /// Show the history of an image, one row per history entry.
    History(HistoryArgs),
    /// Explore the layers of an image or container: sizes, files added/changed/deleted,
    /// which layer provides a path, and bytes wasted on deleted or replaced files.
    Layers(LayersArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Commit message (the history entry's comment).
    #[arg(short, long)]
    pub message: Option<String>,
    /// Author (e.g. "Jane <jane@example.com>").
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, ...).
    #[arg(short, long = "change")]
    pub change: Vec<String>,
    /// Store the layer as a plain tar instead of gzip.
    #[arg(long)]
    pub no_compress: bool,
    /// Pause (freeze) a running container while its files are read (`--pause=false`: don't).
    #[arg(short, long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub pause: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "NAME[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Print sizes in bytes.
    #[arg(short = 'H', long = "human", default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Debug, Args)]
pub struct LayersArgs {
    /// List the bytes kept in lower layers for files that upper layers delete or replace.
    #[arg(long)]
    pub wasted: bool,
    /// How many of the largest wasted files to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[arg(value_name = "IMAGE|CONTAINER")]
    pub target: String,
    /// Trace this path through the layers.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
}

pub fn dispatch(root: &DataRoot, cmd: Commands) -> Result<()> {
    match cmd {
        Commands::Diff(a) => diff(root, a),
        Commands::Commit(a) => commit_cmd(root, a),
        Commands::Export(a) => export_cmd(root, a),
        Commands::Save(a) => save_cmd(root, a),
        Commands::History(a) => history(root, a),
        Commands::Layers(a) => layers(root, a),
    }
}

fn container(root: &DataRoot, key: &str) -> Result<ContainerState> {
    Ok(Containers::open(root)?.resolve(key)?)
}

/// The container's upper dir, which must exist (a bundle container has none).
fn upper_of(st: &ContainerState) -> Result<PathBuf> {
    let upper = st.bundle.join("upper");
    if st.image_id.is_empty() || !upper.is_dir() {
        bail!(
            "container {} has no upper dir (created from a bundle, or its files are gone)",
            st.short_id()
        );
    }
    Ok(upper)
}

fn diff(root: &DataRoot, a: DiffArgs) -> Result<()> {
    let st = container(root, &a.container)?;
    let upper = upper_of(&st)?;
    let mut out = String::new();
    for c in changes::changes(&upper, &st.lower_dirs)? {
        out.push_str(&format!("{c}\n"));
    }
    out!("{out}")?;
    Ok(())
}

/// How long `commit` waits for a running container to freeze.
const PAUSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

fn commit_cmd(root: &DataRoot, a: CommitArgs) -> Result<()> {
    let st = container(root, &a.container)?;
    let store = ImageStore::open(root)?;
    let upper = upper_of(&st)?;
    let base = store
        .resolve(&st.image_id)
        .with_context(|| format!("the image of container {}", st.short_id()))?;
    let opts = commit::CommitOptions {
        reference: a.reference.clone(),
        message: a.message,
        author: a.author,
        changes: a.change,
        created_by: format!("nsbox commit {}: {}", st.short_id(), st.command.join(" ")),
        container_id: st.id.clone(),
        gzip: !a.no_compress,
        unmap: super::userns::unmap_of(&st),
    };
    // Frozen while its files are read, thawed when `_frozen` drops (errors included).
    let _frozen = match (&st.cgroup, a.pause && st.is_alive()) {
        (Some(cg), true) => Some(freezer::freeze(cg, PAUSE_LIMIT)?),
        _ => None,
    };
    let rec = commit::commit(&store, &base, &upper, &opts)?;
    drop(_frozen);
    outln!("{}", rec.id)?;
    Ok(())
}

/// Write through `f` into `output` (temp file + rename, so no half file appears) or stdout.
fn write_output(
    root: &DataRoot,
    output: Option<&Path>,
    what: &str,
    f: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let Some(out) = output else {
        let stdout = std::io::stdout();
        if stdout.is_terminal() {
            bail!("cowardly refusing to write {what} to a terminal: use the -o flag or redirect");
        }
        let mut lock = std::io::BufWriter::new(stdout.lock());
        // Here a broken pipe can only be stdout's: `save busybox | head -c1` ends quietly.
        let closed = |e: &anyhow::Error| {
            e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            })
        };
        if let Err(e) = f(&mut lock) {
            if closed(&e) {
                return Err(OutputError(std::io::ErrorKind::BrokenPipe.into()).into());
            }
            return Err(e);
        }
        lock.flush().map_err(OutputError)?;
        return Ok(());
    };
    let _ = root;
    let name = out
        .file_name()
        .with_context(|| format!("{}: not a file name", out.display()))?;
    let tmp = out.with_file_name(format!(
        ".{}.nsbox-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let file = fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
        let mut w = std::io::BufWriter::new(file);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, out).with_context(|| format!("rename to {}", out.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn export_cmd(root: &DataRoot, a: ExportArgs) -> Result<()> {
    let st = container(root, &a.container)?;
    let mut layers = st.lower_dirs.clone();
    if st.image_id.is_empty() {
        // A bundle container: its rootfs is a plain directory.
        layers = vec![st.rootfs.clone()];
    } else {
        layers.push(upper_of(&st)?);
    }
    let unmap = super::userns::unmap_of(&st);
    write_output(root, a.output.as_deref(), "the export", |w| {
        export::export(layers, w, unmap)?;
        Ok(())
    })
}

fn save_cmd(root: &DataRoot, a: SaveArgs) -> Result<()> {
    let store = ImageStore::open(root)?;
    let mut items: Vec<save::Item> = Vec::new();
    for r in &a.images {
        let rec = store.resolve(r)?;
        // A name saves under that name; an id saves with all the image's tags.
        let tags = match normalize(r).filter(|n| rec.repo_tags.contains(n)) {
            Some(n) => vec![n],
            None => rec.repo_tags.clone(),
        };
        match items.iter_mut().find(|i| i.image.id == rec.id) {
            Some(it) => {
                for t in tags {
                    if !it.tags.contains(&t) {
                        it.tags.push(t);
                    }
                }
            }
            None => items.push(save::Item { image: rec, tags }),
        }
    }
    write_output(root, a.output.as_deref(), "the archive", |w| {
        save::save(&store, &items, w)?;
        Ok(())
    })
}

/// One history row, newest first in the output.
#[derive(Debug, serde::Serialize)]
struct HistoryRow {
    id: String,
    created: Option<String>,
    created_by: String,
    size: u64,
    comment: String,
    /// The layer (index, bottom first) this entry made, if any.
    layer: Option<usize>,
}

fn history_rows(store: &ImageStore, rec: &ImageRecord) -> Result<Vec<HistoryRow>> {
    let config = store.config(rec)?;
    let entries = config.history().clone().unwrap_or_default();
    let mut rows = Vec::new();
    let mut layer = 0;
    let non_empty = entries
        .iter()
        .filter(|h| !h.empty_layer().unwrap_or(false))
        .count();
    if non_empty == rec.diff_ids.len() {
        for h in &entries {
            let empty = h.empty_layer().unwrap_or(false);
            rows.push(HistoryRow {
                id: "<missing>".into(),
                created: h.created().clone(),
                created_by: h.created_by().clone().unwrap_or_default(),
                size: if empty {
                    0
                } else {
                    rec.layer_sizes.get(layer).copied().unwrap_or(0)
                },
                comment: h.comment().clone().unwrap_or_default(),
                layer: (!empty).then_some(layer),
            });
            if !empty {
                layer += 1;
            }
        }
    } else {
        // No usable history: one row per layer, as Docker shows for such images.
        for (i, _) in rec.diff_ids.iter().enumerate() {
            rows.push(HistoryRow {
                id: "<missing>".into(),
                created: None,
                created_by: String::new(),
                size: rec.layer_sizes.get(i).copied().unwrap_or(0),
                comment: String::new(),
                layer: Some(i),
            });
        }
    }
    rows.reverse();
    if let Some(top) = rows.first_mut() {
        top.id = rec.id.clone();
    }
    Ok(rows)
}

fn ago(t: Option<&str>) -> String {
    match t {
        Some(t) if !human::since(t).is_empty() => format!("{} ago", human::since(t)),
        _ => "N/A".into(),
    }
}

fn truncate(s: &str, n: usize, no_trunc: bool) -> String {
    if no_trunc || s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

fn history(root: &DataRoot, a: HistoryArgs) -> Result<()> {
    let store = ImageStore::open(root)?;
    let rec = store.resolve(&a.image)?;
    let rows = history_rows(&store, &rec)?;
    if a.format == Format::Json {
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                if r.id.starts_with("sha256:") && !a.no_trunc {
                    short(&r.id).to_string()
                } else {
                    r.id.clone()
                },
                ago(r.created.as_deref()),
                truncate(&r.created_by, 45, a.no_trunc),
                if a.human {
                    human::size(r.size)
                } else {
                    r.size.to_string()
                },
                r.comment.clone(),
            ]
        })
        .collect();
    out!(
        "{}",
        human::table(
            &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &table
        )
    )?;
    Ok(())
}

/// A stack to explore: layer dirs with what to call them and their history line.
struct Target {
    stack: Stack,
    names: Vec<String>,
    created_by: Vec<String>,
}

fn target(root: &DataRoot, key: &str) -> Result<Target> {
    let store = ImageStore::open(root)?;
    let (rec, upper) = match Containers::open(root)?.resolve(key) {
        Ok(st) => {
            let upper = upper_of(&st)?;
            (store.resolve(&st.image_id)?, Some(upper))
        }
        Err(_) => (store.resolve(key)?, None),
    };
    let mut dirs = store.layer_dirs(&rec)?;
    let mut names: Vec<String> = rec.diff_ids.clone();
    let mut created_by = vec![String::new(); names.len()];
    for r in history_rows(&store, &rec)? {
        if let Some(i) = r.layer {
            created_by[i] = r.created_by;
        }
    }
    if let Some(u) = upper {
        dirs.push(u);
        names.push("container (upper dir)".into());
        created_by.push(String::new());
    }
    Ok(Target {
        stack: Stack::new(dirs),
        names,
        created_by,
    })
}

fn layers(root: &DataRoot, a: LayersArgs) -> Result<()> {
    let t = target(root, &a.target)?;
    let show = |i: usize| -> String {
        let n = &t.names[i];
        if n.starts_with("sha256:") {
            format!("sha256:{}", short(n))
        } else {
            n.clone()
        }
    };
    if let Some(p) = &a.path {
        return trace(&t, p, a.format, &show);
    }
    if a.wasted {
        return wasted(&t, a.format, a.top, &show);
    }
    let stats: Vec<LayerStats> = (0..t.stack.layers.len())
        .map(|i| analysis::layer_stats(&t.stack, i))
        .collect::<Result<_, _>>()?;
    if a.format == Format::Json {
        let v: Vec<_> = stats
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({"layer": i, "digest": t.names[i], "dir": t.stack.layers[i], "created_by": t.created_by[i],
                       "size": s.size, "added": s.added, "modified": s.modified, "deleted": s.deleted})
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = stats
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                i.to_string(),
                show(i),
                human::size(s.size),
                s.added.to_string(),
                s.modified.to_string(),
                s.deleted.to_string(),
                truncate(&t.created_by[i], 45, false),
            ]
        })
        .collect();
    out!(
        "{}",
        human::table(
            &[
                "LAYER",
                "DIGEST",
                "SIZE",
                "ADDED",
                "MODIFIED",
                "DELETED",
                "CREATED BY"
            ],
            &rows
        )
    )?;
    Ok(())
}

fn trace(t: &Target, path: &str, format: Format, show: &dyn Fn(usize) -> String) -> Result<()> {
    let rel = analysis::relative(path)?;
    let (events, top) = analysis::trace(&t.stack, &rel)?;
    if format == Format::Json {
        let v = json!({"path": path, "provided_by": top, "events": events.iter().map(|e| json!({
            "layer": e.layer, "digest": t.names[e.layer], "action": e.action, "kind": e.kind, "size": e.size,
        })).collect::<Vec<_>>()});
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.layer.to_string(),
                show(e.layer),
                e.action.clone(),
                e.kind.clone(),
                if e.size > 0 {
                    human::size(e.size)
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    out!(
        "{}",
        human::table(&["LAYER", "DIGEST", "ACTION", "TYPE", "SIZE"], &rows)
    )?;
    match top {
        Some(i) => outln!("{path}: provided by layer {i} ({})", show(i))?,
        None if events.is_empty() => outln!("{path}: not in any layer")?,
        None => outln!("{path}: deleted (not visible at the top)")?,
    }
    Ok(())
}

fn wasted(t: &Target, format: Format, top: usize, show: &dyn Fn(usize) -> String) -> Result<()> {
    let list = analysis::wasted(&t.stack)?;
    let total: u64 = list.iter().map(|w| w.size).sum();
    if format == Format::Json {
        let v = json!({"total": total, "files": list});
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    outln!(
        "Wasted: {} in {} file(s) kept in lower layers but deleted or replaced above",
        human::size(total),
        list.len()
    )?;
    if list.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .take(top)
        .map(|w| {
            vec![
                human::size(w.size),
                w.path.clone(),
                format!("{} {}", w.layer, show(w.layer)),
                format!("{} by {} {}", w.how, w.by, show(w.by)),
            ]
        })
        .collect();
    out!(
        "{}",
        human::table(&["SIZE", "PATH", "KEPT IN LAYER", "HIDDEN"], &rows)
    )?;
    Ok(())
}
