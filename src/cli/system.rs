//! `nsbox system df` (what images, containers and volumes take on disk, and what could be
//! reclaimed) and `nsbox system prune` (stopped containers, unused images and, with
//! `--volumes`, unused anonymous volumes), with Docker's output.

use super::container::remove_one;
use super::image::{confirm, print_deleted_images, prune_images, PruneFilter};
use super::inspect::{parse_template, render};
use super::{human, ExitError};
use crate::dataroot::DataRoot;
use crate::image::ImageStore;
use crate::state::{ContainerState, Containers};
use crate::storage::usage::disk_usage;
use crate::storage::volumes::Volumes;
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// `nsbox system ...`
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show disk usage.
    Df(DfArgs),
    /// Remove unused data.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage.
    #[arg(short, long)]
    pub verbose: bool,
    /// Format the output using a Go template ("json" for one JSON object per line).
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes.
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=KEY[=VALUE]").
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

pub fn dispatch(root: &DataRoot, cmd: SystemCommand) -> Result<()> {
    match cmd {
        SystemCommand::Df(a) => df(root, a),
        SystemCommand::Prune(a) => prune(root, a),
    }
}

/// One row of `system df`: counts and bytes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Usage {
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// Everything `system df` reports, measured once.
struct DiskUsage {
    images: Usage,
    containers: Usage,
    volumes: Usage,
    /// Per image: (record, containers using it, unique size, shared size).
    image_rows: Vec<(crate::image::ImageRecord, usize, u64, u64)>,
    /// Per container: (state, writable layer size).
    container_rows: Vec<(ContainerState, u64)>,
    /// Per volume: (name, containers using it, size).
    volume_rows: Vec<(String, usize, u64)>,
}

fn measure(root: &DataRoot) -> Result<DiskUsage> {
    let store = ImageStore::open(root)?;
    let containers = Containers::open(root)?;
    let states = containers.list()?;
    let images = store.list()?;
    let layer_sizes = store.layer_sizes()?;

    // Images: every layer counted once; what active images use is not reclaimable.
    let mut layer_users: HashMap<&str, usize> = HashMap::new();
    for img in &images {
        for d in &img.diff_ids {
            *layer_users.entry(d.as_str()).or_default() += 1;
        }
    }
    let size_of = |d: &str| {
        layer_sizes
            .get(d.strip_prefix("sha256:").unwrap_or(d))
            .copied()
            .unwrap_or(0)
    };
    let total_size: u64 = layer_users.keys().map(|d| size_of(d)).sum();
    let mut active_layers: HashSet<&str> = HashSet::new();
    let mut image_rows = Vec::new();
    let mut active = 0;
    for img in &images {
        let users = states.iter().filter(|c| c.image_id == img.id).count();
        if users > 0 {
            active += 1;
            active_layers.extend(img.diff_ids.iter().map(String::as_str));
        }
        let shared: u64 = img
            .diff_ids
            .iter()
            .filter(|d| layer_users.get(d.as_str()).copied().unwrap_or(0) > 1)
            .map(|d| size_of(d))
            .sum();
        let own: u64 = img.diff_ids.iter().map(|d| size_of(d)).sum();
        image_rows.push((img.clone(), users, own - shared.min(own), shared));
    }
    let used: u64 = active_layers.iter().map(|d| size_of(d)).sum();
    let images_usage = Usage {
        total: images.len(),
        active,
        size: total_size,
        reclaimable: total_size - used.min(total_size),
    };

    // Containers: the writable layer; a stopped container's is reclaimable.
    let mut container_rows = Vec::new();
    let mut cu = Usage::default();
    for st in states.iter() {
        let size = disk_usage(&containers.dir_of(&st.id).join("upper"));
        let running = st.is_alive();
        cu.total += 1;
        cu.size += size;
        if running {
            cu.active += 1;
        } else {
            cu.reclaimable += size;
        }
        container_rows.push((st.clone(), size));
    }

    // Volumes: a volume no container references is reclaimable.
    let vols = Volumes::open(root)?;
    let mut vu = Usage::default();
    let mut volume_rows = Vec::new();
    for v in vols.list()? {
        let links = volume_users(&states, &v.name);
        let size = disk_usage(&vols.data_dir(&v.name));
        vu.total += 1;
        vu.size += size;
        if links > 0 {
            vu.active += 1;
        } else {
            vu.reclaimable += size;
        }
        volume_rows.push((v.name, links, size));
    }
    Ok(DiskUsage {
        images: images_usage,
        containers: cu,
        volumes: vu,
        image_rows,
        container_rows,
        volume_rows,
    })
}

fn volume_users(states: &[ContainerState], name: &str) -> usize {
    states
        .iter()
        .filter(|c| c.mounts.iter().any(|m| m.typ == "volume" && m.name == name))
        .count()
}

/// Docker's RECLAIMABLE cell: "SIZE (PCT%)" when there is anything at all.
fn reclaimable_cell(u: &Usage, with_pct: bool) -> String {
    if with_pct && u.size > 0 {
        format!(
            "{} ({}%)",
            human::size(u.reclaimable),
            u.reclaimable * 100 / u.size
        )
    } else {
        human::size(u.reclaimable)
    }
}

fn df(root: &DataRoot, a: DfArgs) -> Result<()> {
    let template = match a.format.as_deref() {
        None | Some("json") => None,
        Some(t) => Some(parse_template(t.strip_prefix("table ").unwrap_or(t))?),
    };
    let d = measure(root)?;
    let rows = [
        ("Images", &d.images, true),
        ("Containers", &d.containers, true),
        ("Local Volumes", &d.volumes, true),
        ("Build Cache", &Usage::default(), false),
    ];
    if let Some(f) = a.format.as_deref() {
        for (name, u, pct) in rows {
            let obj = json!({
                "Type": name,
                "TotalCount": u.total.to_string(),
                "Active": u.active.to_string(),
                "Size": human::size(u.size),
                "Reclaimable": reclaimable_cell(u, pct),
            });
            match &template {
                None => println!("{obj}"),
                Some(t) => {
                    if f.starts_with("table ") && name == "Images" {
                        // A table template prints its header row as well.
                        let head = json!({"Type": "TYPE", "TotalCount": "TOTAL",
                            "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
                        println!("{}", render(t, &head)?);
                    }
                    println!("{}", render(t, &obj)?);
                }
            }
        }
        return Ok(());
    }
    if a.verbose {
        return df_verbose(&d);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|(name, u, pct)| {
            vec![
                name.to_string(),
                u.total.to_string(),
                u.active.to_string(),
                human::size(u.size),
                reclaimable_cell(u, *pct),
            ]
        })
        .collect();
    print!(
        "{}",
        human::table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &table)
    );
    Ok(())
}

fn df_verbose(d: &DiskUsage) -> Result<()> {
    let now = chrono::Utc::now();
    let ago = |t: Option<&str>| {
        t.and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|t| {
                format!(
                    "{} ago",
                    human::duration_secs((now - t.with_timezone(&chrono::Utc)).num_seconds())
                )
            })
            .unwrap_or_else(|| "N/A".into())
    };
    println!("Images space usage:\n");
    let mut rows = Vec::new();
    for (img, users, unique, shared) in &d.image_rows {
        let tags = if img.repo_tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            img.repo_tags.clone()
        };
        for t in tags {
            let (repo, tag) = t.rsplit_once(':').unwrap_or((&t, "<none>"));
            rows.push(vec![
                repo.to_string(),
                tag.to_string(),
                crate::image::short(&img.id).to_string(),
                ago(img.created.as_deref()),
                human::size(unique + shared),
                human::size(*shared),
                human::size(*unique),
                users.to_string(),
            ]);
        }
    }
    print!(
        "{}",
        human::table(
            &[
                "REPOSITORY",
                "TAG",
                "IMAGE ID",
                "CREATED",
                "SIZE",
                "SHARED SIZE",
                "UNIQUE SIZE",
                "CONTAINERS"
            ],
            &rows
        )
    );
    println!("\nContainers space usage:\n");
    let rows: Vec<Vec<String>> = d
        .container_rows
        .iter()
        .map(|(st, size)| {
            let vols = st.mounts.iter().filter(|m| m.typ == "volume").count();
            vec![
                st.short_id().to_string(),
                st.image.clone(),
                format!("\"{}\"", st.command.join(" ")),
                vols.to_string(),
                human::size(*size),
                ago(Some(&st.created)),
                super::container::status_text(st),
                st.name.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        human::table(
            &[
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "LOCAL VOLUMES",
                "SIZE",
                "CREATED",
                "STATUS",
                "NAMES"
            ],
            &rows
        )
    );
    println!("\nLocal Volumes space usage:\n");
    let rows: Vec<Vec<String>> = d
        .volume_rows
        .iter()
        .map(|(n, links, size)| vec![n.clone(), links.to_string(), human::size(*size)])
        .collect();
    print!("{}", human::table(&["VOLUME NAME", "LINKS", "SIZE"], &rows));
    println!("\nBuild cache usage: 0B\n");
    print!(
        "{}",
        human::table(
            &[
                "CACHE ID",
                "CACHE TYPE",
                "SIZE",
                "CREATED",
                "LAST USED",
                "USAGE",
                "SHARED"
            ],
            &[]
        )
    );
    Ok(())
}

/// Docker's system prune warning, item by item.
fn warning(a: &PruneArgs) -> String {
    let mut items = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if a.volumes {
        items.push("all anonymous volumes not used by at least one container");
    }
    if a.all {
        items.push("all images without at least one container associated to them");
        items.push("all build cache");
    } else {
        items.push("all dangling images");
        items.push("unused build cache");
    }
    let mut s = String::from("WARNING! This will remove:\n");
    for i in items {
        s.push_str(&format!("  - {i}\n"));
    }
    s.push('\n');
    s
}

fn prune(root: &DataRoot, a: PruneArgs) -> Result<()> {
    let filter = PruneFilter::parse(&a.filters, chrono::Utc::now()).map_err(|e| {
        ExitError::new(
            super::EXIT_NSBOX,
            format!("Error response from daemon: {e}"),
        )
    })?;
    if !a.force && !confirm(&warning(&a))? {
        return Ok(());
    }
    let mut reclaimed = 0;
    let mut errors = Vec::new();

    // Stopped containers, through the one container removal.
    let containers = Containers::open(root)?;
    let mut deleted = Vec::new();
    for st in containers.list()? {
        if st.is_alive() || !filter_container(&filter, &st) {
            continue;
        }
        let size = disk_usage(&containers.dir_of(&st.id).join("upper"));
        match remove_one(root, &containers, &st.id, false, false) {
            Ok(()) => {
                reclaimed += size;
                deleted.push(st.id);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if !deleted.is_empty() {
        println!("Deleted Containers:\n{}\n", deleted.join("\n"));
    }

    // Anonymous volumes no container (left) references.
    if a.volumes {
        let vols = Volumes::open(root)?;
        let states = containers.list()?;
        let mut deleted = Vec::new();
        for v in vols.list()? {
            if !v.anonymous || volume_users(&states, &v.name) > 0 {
                continue;
            }
            let size = disk_usage(&vols.data_dir(&v.name));
            match vols.remove(&v.name) {
                Ok(()) => {
                    reclaimed += size;
                    deleted.push(v.name);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        if !deleted.is_empty() {
            println!("Deleted Volumes:\n{}\n", deleted.join("\n"));
        }
    }

    let pruned = prune_images(root, a.all, &filter)?;
    print_deleted_images(&pruned.removed);
    reclaimed += pruned.reclaimed;
    println!("Total reclaimed space: {}", human::size(reclaimed));
    match errors.pop() {
        None => Ok(()),
        Some(last) => {
            for e in &errors {
                eprintln!("nsbox: {e}");
            }
            Err(ExitError::new(1, last).into())
        }
    }
}

/// `until` and `label` filters on containers (created time; nsbox containers carry no
/// labels, so a label filter matches none and `label!=` matches all).
fn filter_container(f: &PruneFilter, st: &ContainerState) -> bool {
    let rec = crate::image::ImageRecord {
        id: st.id.clone(),
        repo_tags: Vec::new(),
        diff_ids: Vec::new(),
        created: Some(st.created.clone()),
        size: 0,
        layer_sizes: Vec::new(),
        manifest: None,
        layer_blobs: Vec::new(),
    };
    f.matches(&rec, &HashMap::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaimable_shows_a_percentage_of_a_nonzero_size() {
        let u = Usage {
            total: 2,
            active: 1,
            size: 4000,
            reclaimable: 1000,
        };
        assert_eq!(reclaimable_cell(&u, true), "1kB (25%)");
        assert_eq!(reclaimable_cell(&Usage::default(), true), "0B");
        assert_eq!(reclaimable_cell(&u, false), "1kB");
    }

    #[test]
    fn warning_lists_what_goes() {
        let a = PruneArgs {
            all: false,
            force: false,
            volumes: true,
            filters: vec![],
        };
        let w = warning(&a);
        assert!(w.starts_with("WARNING! This will remove:\n  - all stopped containers\n"));
        assert!(w.contains("  - all anonymous volumes not used by at least one container\n"));
        assert!(w.contains("  - all dangling images\n"));
        assert!(w.ends_with("\n\n"));
    }
}
