//! `nsbox cgroup CONTAINER`: the container's cgroup as the kernel has it — the directory
//! on each hierarchy, then limits, usage, peaks and event counters, file by file.

use super::human;
use super::machinery::{running, Format};
use crate::dataroot::DataRoot;
use crate::runtime::cgroups::view::{self, Entry, Kind};
use crate::runtime::cgroups::{Cgroup, Mode};
use crate::state::Containers;
use anyhow::Result;
use clap::Args;
use serde_json::{Map, Value};

#[derive(Debug, Args)]
pub struct CgroupArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The container (name, id or id prefix); it must be running.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub fn cgroup(root: &DataRoot, a: CgroupArgs) -> Result<String> {
    let containers = Containers::open(root)?;
    let st = running(&containers, &a.container)?;
    let Some(r) = &st.cgroup else {
        return Err(
            super::ExitError::new(1, format!("Container {} has no cgroup", a.container)).into(),
        );
    };
    let cg = Cgroup::open(r);
    let paths = view::paths(&cg);
    let entries = view::read(&cg);
    let mode = r.mode;
    Ok(match a.format {
        Format::Json => format!("{}\n", json(&st.id, &st.name, mode, &paths, &entries)),
        Format::Table => {
            let path_rows: Vec<Vec<String>> = paths
                .iter()
                .map(|(c, p)| vec![c.clone(), p.display().to_string()])
                .collect();
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.kind.as_str().to_string(),
                        e.name(),
                        e.raw.clone(),
                        e.meaning.clone(),
                        e.what.to_string(),
                    ]
                })
                .collect();
            format!(
                "{}: cgroup {mode}, {}\n\n{}\n{}",
                st.name,
                backend(mode),
                human::table(&["HIERARCHY", "PATH"], &path_rows),
                human::table(&["KIND", "FILE", "VALUE", "READS AS", "WHAT"], &rows)
            )
        }
    })
}

/// How nsbox drives this kind of cgroup.
fn backend(mode: Mode) -> &'static str {
    match mode {
        Mode::Unified => "cgroupfs via cgroups-rs: one directory in the single v2 hierarchy",
        Mode::Hybrid | Mode::Legacy => {
            "cgroupfs via cgroups-rs: one directory per v1 controller hierarchy"
        }
    }
}

/// The short name of a mode, as `nsbox info` prints it: v2, hybrid or v1.
pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Unified => "v2",
        Mode::Hybrid => "hybrid",
        Mode::Legacy => "v1",
    }
}

fn json(
    id: &str,
    name: &str,
    mode: Mode,
    paths: &[(String, std::path::PathBuf)],
    entries: &[Entry],
) -> Value {
    let mut groups: [(Kind, &str, Map<String, Value>); 4] = [
        (Kind::Limit, "Limits", Map::new()),
        (Kind::Usage, "Usage", Map::new()),
        (Kind::Peak, "Peaks", Map::new()),
        (Kind::Event, "Events", Map::new()),
    ];
    for e in entries {
        let v = match view::as_number(&e.raw) {
            Some(n) => Value::from(n),
            None => Value::from(e.raw.clone()),
        };
        if let Some((_, _, m)) = groups.iter_mut().find(|(k, _, _)| *k == e.kind) {
            m.insert(e.name(), v);
        }
    }
    let mut out = Map::new();
    out.insert("ID".into(), id.into());
    out.insert("Name".into(), name.into());
    out.insert("Mode".into(), mode_name(mode).into());
    out.insert(
        "Version".into(),
        (if mode == Mode::Unified { 2 } else { 1 }).into(),
    );
    out.insert("Backend".into(), backend(mode).into());
    out.insert(
        "Paths".into(),
        paths
            .iter()
            .map(|(c, p)| (c.clone(), Value::from(p.display().to_string())))
            .collect::<Map<_, _>>()
            .into(),
    );
    for (_, key, m) in groups {
        out.insert(key.into(), m.into());
    }
    Value::Object(out)
}
