//! `nsbox volume create|ls|inspect|rm|prune`: Docker's volume verbs over the store in
//! `storage::volumes`. Whether a volume is in use comes from the mounts recorded in every
//! container's state, running or stopped, as Docker counts references.

use super::inspect::{parse_template, render};
use super::{human, out, outln, ExitError, EXIT_NSBOX};
use crate::dataroot::DataRoot;
use crate::state::{ContainerState, Containers};
use crate::storage::usage::disk_usage;
use crate::storage::volumes::{Volume, VolumeError, Volumes};
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

/// The only volume driver nsbox has.
const DRIVER: &str = "local";

/// Filter keys `docker volume ls` accepts.
const LS_FILTERS: &[&str] = &["dangling", "driver", "label", "name"];

/// Filter keys `docker volume prune` accepts (its `all` filter is the `--all` flag here).
const PRUNE_FILTERS: &[&str] = &["label", "label!"];

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(CreateArgs),
    /// List volumes.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes (JSON, or -f TEMPLATE).
    Inspect(InspectArgs),
    /// Remove one or more volumes.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes (anonymous ones only, unless --all).
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Specify volume driver name (only "local").
    #[arg(short, long, default_value = DRIVER)]
    pub driver: String,
    /// Set metadata for a volume (KEY=VALUE, or KEY for an empty value).
    #[arg(long = "label", value_name = "LABEL", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// The volume's name; a random 64-hex name when omitted.
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display volume names.
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output: dangling=true|false, driver=local, label=KEY[=VALUE], name=SUBSTRING.
    #[arg(short, long = "filter", value_name = "FILTER", value_parser = parse_filter)]
    pub filters: Vec<Filter>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using a Go template, e.g. '{{.Mountpoint}}'.
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Ignore missing volumes, and remove volumes that only stopped containers use.
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Remove all unused volumes, not just anonymous ones.
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values: label=KEY[=VALUE], label!=KEY[=VALUE].
    #[arg(long = "filter", value_name = "FILTER", value_parser = parse_filter)]
    pub filters: Vec<Filter>,
}

pub fn dispatch(root: &DataRoot, cmd: VolumeCommand) -> Result<()> {
    match cmd {
        VolumeCommand::Create(a) => create(root, a),
        VolumeCommand::Ls(a) => ls(root, a),
        VolumeCommand::Inspect(a) => inspect(root, a),
        VolumeCommand::Rm(a) => rm(root, a),
        VolumeCommand::Prune(a) => prune(root, a),
    }
}

fn create(root: &DataRoot, a: CreateArgs) -> Result<()> {
    if a.driver != DRIVER {
        let d = &a.driver;
        let what = a
            .name
            .as_deref()
            .map(|n| format!("create {n}: "))
            .unwrap_or_default();
        return Err(daemon(format!(
            "{what}error looking up volume plugin {d}: plugin \"{d}\" not found"
        )));
    }
    let labels = a.labels.into_iter().collect();
    let (vol, _) = Volumes::open(root)?
        .create(a.name.as_deref(), labels)
        .map_err(daemon)?;
    outln!("{}", vol.name)?;
    Ok(())
}

fn ls(root: &DataRoot, a: LsArgs) -> Result<()> {
    let sel = Selector::parse(&a.filters, LS_FILTERS).map_err(daemon)?;
    let users = load_users(root)?;
    let vols: Vec<Volume> = Volumes::open(root)?
        .list()?
        .into_iter()
        .filter(|v| sel.matches(v, users.contains_key(&v.name)))
        .collect();
    if a.quiet {
        for v in &vols {
            outln!("{}", v.name)?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = vols
        .iter()
        .map(|v| vec![DRIVER.to_string(), v.name.clone()])
        .collect();
    out!("{}", human::table(&["DRIVER", "VOLUME NAME"], &rows))?;
    Ok(())
}

fn inspect(root: &DataRoot, a: InspectArgs) -> Result<()> {
    // A bad template is an error before any lookup.
    let template = a.format.as_deref().map(parse_template).transpose()?;
    let vols = Volumes::open(root)?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in &a.names {
        match vols.get(name) {
            Ok(v) => found.push(volume_json(&vols, &v)),
            Err(e) => errors.push(lookup_error(name, e)),
        }
    }
    // Like Docker, show what was found even when some names were not.
    match &template {
        None if found.is_empty() => {}
        None => outln!("{}", serde_json::to_string_pretty(&Json::Array(found))?)?,
        Some(t) => {
            for o in &found {
                outln!("{}", render(t, o)?)?;
            }
        }
    }
    fail_with(errors)
}

fn rm(root: &DataRoot, a: RmArgs) -> Result<()> {
    let vols = Volumes::open(root)?;
    let users = load_users(root)?;
    let mut errors = Vec::new();
    for name in &a.names {
        match remove_one(&vols, users.get(name), name, a.force) {
            Ok(()) => outln!("{name}")?,
            Err(e) => errors.push(e),
        }
    }
    fail_with(errors)
}

/// Remove one volume unless a container needs it; the error is the line to show the user.
fn remove_one(
    vols: &Volumes,
    users: Option<&Users>,
    name: &str,
    force: bool,
) -> Result<(), String> {
    let removed = match vols.get(name) {
        Ok(_) => match refusal(name, users, force) {
            Some(msg) => return Err(msg),
            None => vols.remove(name),
        },
        Err(e) => Err(e),
    };
    match removed {
        // Docker's -f makes a missing volume a success (and still prints its name).
        Err(VolumeError::NotFound(_)) if force => Ok(()),
        Err(e) => Err(lookup_error(name, e)),
        Ok(()) => Ok(()),
    }
}

/// Why a volume must not be removed, if it must not: a running container has it mounted;
/// a stopped one would find it gone on restart, so only `force` lets that go (a deviation:
/// Docker refuses both).
fn refusal(name: &str, users: Option<&Users>, force: bool) -> Option<String> {
    let u = users?;
    (u.running || !force)
        .then(|| format!("remove {name}: volume is in use - [{}]", u.ids.join(", ")))
}

fn prune(root: &DataRoot, a: PruneArgs) -> Result<()> {
    let sel = Selector::parse(&a.filters, PRUNE_FILTERS).map_err(daemon)?;
    if !a.force && !confirm(a.all)? {
        return Ok(());
    }
    let vols = Volumes::open(root)?;
    let users = load_users(root)?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0;
    let mut errors = Vec::new();
    for v in vols.list()? {
        if !prunable(&v, &sel, users.contains_key(&v.name), a.all) {
            continue;
        }
        // Measured before removal: afterwards there is nothing left to measure.
        let size = disk_usage(&vols.data_dir(&v.name));
        match vols.remove(&v.name) {
            Ok(()) => {
                deleted.push(v.name);
                reclaimed += size;
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !deleted.is_empty() {
        outln!("Deleted Volumes:\n{}\n", deleted.join("\n"))?;
    }
    outln!("Total reclaimed space: {}", human::size(reclaimed))?;
    fail_with(errors)
}

/// Whether prune takes this volume: unused, anonymous unless `all`, and selected by the filters.
fn prunable(v: &Volume, sel: &Selector, used: bool, all: bool) -> bool {
    !used && (all || v.anonymous) && sel.matches(v, used)
}

/// Docker's prompt; only an answer of y or Y goes ahead (end of input declines).
fn confirm(all: bool) -> Result<bool> {
    let which = if all {
        "all local volumes"
    } else {
        "anonymous local volumes"
    };
    out!(
        "WARNING! This will remove {which} not used by at least one container.\nAre you sure you want to continue? [y/N] "
    )?;
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

/// A volume as `docker volume inspect` shows it.
pub(crate) fn volume_json(vols: &Volumes, v: &Volume) -> Json {
    json!({
        "CreatedAt": docker_time(&v.created_at),
        "Driver": DRIVER,
        "Labels": v.labels,
        "Mountpoint": vols.data_dir(&v.name).display().to_string(),
        "Name": v.name,
        "Options": {},
        "Scope": "local",
    })
}

/// Docker prints a volume's creation time to the second (Go's time.RFC3339).
fn docker_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// The line shown when looking a volume up failed.
fn lookup_error(name: &str, e: VolumeError) -> String {
    match e {
        VolumeError::NotFound(_) => format!("No such volume: {name}"),
        e => e.to_string(),
    }
}

/// An error Docker's daemon would report, with nsbox's exit code.
fn daemon(msg: impl std::fmt::Display) -> anyhow::Error {
    ExitError::new(EXIT_NSBOX, msg.to_string()).into()
}

/// Docker's end for per-name failures: one line each on stderr, then exit 1. The last one
/// is returned rather than printed, so main prints it with the same prefix.
fn fail_with(mut errors: Vec<String>) -> Result<()> {
    let Some(last) = errors.pop() else {
        return Ok(());
    };
    for e in errors {
        super::report(&anyhow::anyhow!(e));
    }
    Err(ExitError::new(1, last).into())
}

/// `--label KEY=VALUE` (or `KEY`, an empty value), as Docker's ValidateLabel allows.
fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').unwrap_or((s, ""));
    if k.trim().is_empty() {
        return Err(format!("invalid label '{s}': empty name"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// One `--filter KEY=VALUE`, split at the first '=' as Docker's filters.ParseFlag does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    key: String,
    value: String,
}

fn parse_filter(s: &str) -> Result<Filter, String> {
    let (k, v) = s
        .split_once('=')
        .ok_or("bad format of filter (expected name=value)")?;
    Ok(Filter {
        key: k.trim().to_ascii_lowercase(),
        value: v.trim().to_string(),
    })
}

/// The filters of one command, checked once: what a volume must be to be shown or pruned.
#[derive(Debug, Default, PartialEq, Eq)]
struct Selector {
    /// `dangling=`: Some(true) keeps only unused volumes, Some(false) only used ones.
    dangling: Option<bool>,
    /// `name=`: any of these substrings (Docker takes regexps; plain text matches alike).
    names: Vec<String>,
    /// `driver=`: any of these.
    drivers: Vec<String>,
    /// `label=`: every one must match.
    labels: Vec<String>,
    /// `label!=`: a volume matching all of these is left out.
    not_labels: Vec<String>,
}

impl Selector {
    /// Read `filters`, accepting only the keys in `allowed` (each command has its own).
    fn parse(filters: &[Filter], allowed: &[&str]) -> Result<Self, String> {
        let mut s = Selector::default();
        for f in filters {
            if !allowed.contains(&f.key.as_str()) {
                return Err(format!("invalid filter '{}'", f.key));
            }
            let value = f.value.clone();
            match f.key.as_str() {
                "dangling" => {
                    let yes = match value.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(format!("invalid filter 'dangling={value}'")),
                    };
                    // As in Docker, "true" wins over "false" when both are given.
                    s.dangling = Some(s.dangling == Some(true) || yes);
                }
                "name" => s.names.push(value),
                "driver" => s.drivers.push(value),
                "label" => s.labels.push(value),
                _ => s.not_labels.push(value),
            }
        }
        Ok(s)
    }

    /// Whether `v` (used by some container or not) passes every filter.
    fn matches(&self, v: &Volume, used: bool) -> bool {
        self.dangling.is_none_or(|d| d != used)
            && (self.names.is_empty() || self.names.iter().any(|n| v.name.contains(n.as_str())))
            && (self.drivers.is_empty() || self.drivers.iter().any(|d| d == DRIVER))
            && labels_match(&self.labels, &v.labels)
            && (self.not_labels.is_empty() || !labels_match(&self.not_labels, &v.labels))
    }
}

/// Docker's MatchKVList: every `KEY` must be present and every `KEY=VALUE` equal.
fn labels_match(wanted: &[String], labels: &BTreeMap<String, String>) -> bool {
    wanted.iter().all(|w| match w.split_once('=') {
        Some((k, val)) => labels.get(k).is_some_and(|x| x == val),
        None => labels.contains_key(w.as_str()),
    })
}

/// The containers that reference one volume, and whether any of them is running.
#[derive(Debug, Default, PartialEq, Eq)]
struct Users {
    /// Full container ids, as Docker's "volume is in use" message lists them.
    ids: Vec<String>,
    running: bool,
}

fn load_users(root: &DataRoot) -> Result<BTreeMap<String, Users>> {
    Ok(users_of(&Containers::open(root)?.list()?))
}

/// Which containers reference each volume; a volume absent from the map is dangling.
fn users_of(containers: &[ContainerState]) -> BTreeMap<String, Users> {
    let mut map: BTreeMap<String, Users> = BTreeMap::new();
    for st in containers {
        let alive = st.is_alive();
        for m in st.mounts.iter().filter(|m| m.typ == "volume") {
            let u = map.entry(m.name.clone()).or_default();
            if !u.ids.contains(&st.id) {
                u.ids.push(st.id.clone());
            }
            u.running |= alive;
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{proc_start_time, MountPoint, Status};
    use std::path::PathBuf;

    fn filters(args: &[&str]) -> Vec<Filter> {
        args.iter().map(|a| parse_filter(a).unwrap()).collect()
    }

    fn vol(name: &str, labels: &[(&str, &str)], anonymous: bool) -> Volume {
        Volume {
            name: name.to_string(),
            created_at: "2024-05-01T12:00:00.123456789Z".to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            anonymous,
        }
    }

    fn container(id: &str, volumes: &[&str]) -> ContainerState {
        let mut st = ContainerState::new(
            id.to_string(),
            format!("c-{id}"),
            vec!["sh".to_string()],
            PathBuf::from("/nonexistent"),
            PathBuf::from("/nonexistent"),
        );
        st.mounts = volumes
            .iter()
            .map(|n| MountPoint {
                typ: "volume".to_string(),
                name: n.to_string(),
                source: format!("/v/{n}/_data"),
                destination: format!("/mnt/{n}"),
                driver: DRIVER.to_string(),
                mode: String::new(),
                rw: true,
                propagation: String::new(),
                anonymous: false,
            })
            .collect();
        st
    }

    /// A container whose pid 1 is this test process, so `is_alive` holds.
    fn running(id: &str, volumes: &[&str]) -> ContainerState {
        let mut st = container(id, volumes);
        st.status = Status::Running;
        st.pid = std::process::id() as i32;
        st.pid_start = proc_start_time(st.pid).unwrap();
        st
    }

    #[test]
    fn filters_split_like_docker() {
        assert_eq!(
            parse_filter(" Name = db ").unwrap(),
            Filter {
                key: "name".into(),
                value: "db".into()
            }
        );
        assert_eq!(parse_filter("label=a=b").unwrap().value, "a=b");
        assert!(parse_filter("dangling").is_err());
        assert_eq!(parse_label("k=v=w").unwrap(), ("k".into(), "v=w".into()));
        assert_eq!(parse_label("k").unwrap(), ("k".into(), String::new()));
        assert!(parse_label("=v").is_err());
    }

    #[test]
    fn each_command_has_its_filter_keys() {
        let s = Selector::parse(&filters(&["dangling=1", "dangling=false"]), LS_FILTERS);
        assert_eq!(s.unwrap().dangling, Some(true));
        assert_eq!(
            Selector::parse(&filters(&["x=1"]), LS_FILTERS),
            Err("invalid filter 'x'".to_string())
        );
        assert_eq!(
            Selector::parse(&filters(&["dangling=maybe"]), LS_FILTERS),
            Err("invalid filter 'dangling=maybe'".to_string())
        );
        assert!(Selector::parse(&filters(&["label!=a"]), LS_FILTERS).is_err());
        assert!(Selector::parse(&filters(&["name=a"]), PRUNE_FILTERS).is_err());
        let s = Selector::parse(&filters(&["label!=a", "label=b"]), PRUNE_FILTERS).unwrap();
        assert_eq!(
            (s.labels, s.not_labels),
            (vec!["b".into()], vec!["a".into()])
        );
    }

    #[test]
    fn selectors_match_names_labels_and_use() {
        let v = vol("db-data", &[("env", "prod"), ("tier", "")], false);
        let sel = |args: &[&str]| Selector::parse(&filters(args), LS_FILTERS).unwrap();
        assert!(sel(&[]).matches(&v, true));
        assert!(sel(&["name=data", "name=zzz"]).matches(&v, false));
        assert!(!sel(&["name=zzz"]).matches(&v, false));
        assert!(sel(&["label=env", "label=tier"]).matches(&v, false));
        assert!(sel(&["label=env=prod"]).matches(&v, false));
        assert!(!sel(&["label=env=dev"]).matches(&v, false));
        assert!(!sel(&["label=env", "label=other"]).matches(&v, false));
        assert!(sel(&["driver=local"]).matches(&v, false));
        assert!(!sel(&["driver=nfs"]).matches(&v, false));
        assert!(sel(&["dangling=true"]).matches(&v, false));
        assert!(!sel(&["dangling=true"]).matches(&v, true));
        assert!(sel(&["dangling=false"]).matches(&v, true));
        let keep = Selector::parse(&filters(&["label!=env=prod"]), PRUNE_FILTERS).unwrap();
        assert!(!keep.matches(&v, false));
        assert!(keep.matches(&vol("other", &[], false), false));
    }

    #[test]
    fn users_count_stopped_and_running_containers() {
        let list = vec![
            container("aaa", &["shared", "only-stopped"]),
            running("bbb", &["shared", "shared"]),
            container("ccc", &[]),
        ];
        let users = users_of(&list);
        assert_eq!(users.len(), 2);
        assert_eq!(
            users["shared"],
            Users {
                ids: vec!["aaa".into(), "bbb".into()],
                running: true
            }
        );
        assert_eq!(
            users["only-stopped"],
            Users {
                ids: vec!["aaa".into()],
                running: false
            }
        );
        assert!(!users.contains_key("dangling"));
    }

    #[test]
    fn removal_refused_while_in_use() {
        let users = users_of(&[container("aaa", &["v"]), running("bbb", &["r"])]);
        assert_eq!(
            refusal("v", users.get("v"), false).as_deref(),
            Some("remove v: volume is in use - [aaa]")
        );
        assert_eq!(refusal("v", users.get("v"), true), None);
        assert!(refusal("r", users.get("r"), true).is_some());
        assert_eq!(refusal("free", users.get("free"), false), None);
    }

    #[test]
    fn prune_takes_unused_anonymous_unless_all() {
        let none = Selector::default();
        let anon = vol("a1", &[], true);
        let named = vol("n1", &[("keep", "1")], false);
        assert!(prunable(&anon, &none, false, false));
        assert!(!prunable(&anon, &none, true, true));
        assert!(!prunable(&named, &none, false, false));
        assert!(prunable(&named, &none, false, true));
        let keep = Selector::parse(&filters(&["label!=keep"]), PRUNE_FILTERS).unwrap();
        assert!(!prunable(&named, &keep, false, true));
    }

    #[test]
    fn created_at_is_shown_to_the_second() {
        assert_eq!(
            docker_time("2024-05-01T12:00:00.123456789Z"),
            "2024-05-01T12:00:00Z"
        );
        assert_eq!(docker_time("garbage"), "garbage");
    }
}
