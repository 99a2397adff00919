//! `nsbox ns CONTAINER`: each namespace of the container's pid 1 next to nsbox's own,
//! by inode (the number `readlink /proc/PID/ns/net` prints), and what a different
//! (or the same) namespace means for the process inside.

use super::human;
use super::machinery::{running, Format};
use crate::dataroot::DataRoot;
use crate::state::{ContainerState, Containers};
use anyhow::Result;
use clap::Args;
use std::fs;

#[derive(Debug, Args)]
pub struct NsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The container (name, id or id prefix); it must be running.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// The namespace types /proc/PID/ns has, in `lsns` order.
const KINDS: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// One namespace, inside and outside.
struct Row {
    kind: &'static str,
    container: u64,
    host: u64,
    meaning: String,
}

/// What the explanations draw on, read from the container's /proc entries and state.
#[derive(Debug, Default)]
struct Facts {
    pid: i32,
    /// NSpid: the pid in each pid namespace, outermost first.
    nspid: Vec<String>,
    hostname: Option<String>,
    interfaces: Vec<String>,
    mounts: usize,
    root_fs: String,
    cgroup: Option<String>,
    uid_map: String,
}

pub fn ns(root: &DataRoot, a: NsArgs) -> Result<String> {
    let containers = Containers::open(root)?;
    let st = running(&containers, &a.container)?;
    let facts = facts(&st);
    let mut rows = Vec::new();
    for kind in KINDS {
        // A kind the kernel lacks (time before 5.6) has no link: leave it out.
        let (Some(container), Some(host)) = (
            inode(&format!("/proc/{}/ns/{kind}", st.pid)),
            inode(&format!("/proc/self/ns/{kind}")),
        ) else {
            continue;
        };
        rows.push(Row {
            kind,
            container,
            host,
            meaning: meaning(kind, container == host, &facts),
        });
    }
    Ok(match a.format {
        Format::Json => {
            let list: Vec<_> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "Type": r.kind,
                        "Container": r.container,
                        "Host": r.host,
                        "Shared": r.container == r.host,
                        "Meaning": r.meaning,
                    })
                })
                .collect();
            let v = serde_json::json!({
                "ID": st.id,
                "Name": st.name,
                "Pid": st.pid,
                "Namespaces": list,
            });
            format!("{v}\n")
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.kind.to_string(),
                        r.container.to_string(),
                        r.host.to_string(),
                        if r.container == r.host { "same" } else { "new" }.to_string(),
                        r.meaning.clone(),
                    ]
                })
                .collect();
            format!(
                "{} (pid {}) vs nsbox's own namespaces (/proc/{}/ns vs /proc/self/ns)\n{}",
                st.name,
                st.pid,
                st.pid,
                human::table(
                    &["NAMESPACE", "CONTAINER", "HOST", "VS HOST", "WHAT IT MEANS"],
                    &cells
                )
            )
        }
    })
}

/// The inode in a namespace link's target, "net:[4026531840]" → 4026531840.
fn inode(link: &str) -> Option<u64> {
    parse_link(&fs::read_link(link).ok()?.to_string_lossy())
}

fn parse_link(target: &str) -> Option<u64> {
    target.split_once(":[")?.1.strip_suffix(']')?.parse().ok()
}

fn facts(st: &ContainerState) -> Facts {
    let proc = |f: &str| fs::read_to_string(format!("/proc/{}/{f}", st.pid)).unwrap_or_default();
    let status = proc("status");
    let mountinfo = proc("mountinfo");
    let hostname = oci_spec::runtime::Spec::load(st.bundle.join("config.json"))
        .ok()
        .and_then(|s| s.hostname().clone());
    Facts {
        pid: st.pid,
        nspid: status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .map(|v| v.split_whitespace().map(String::from).collect())
            .unwrap_or_default(),
        hostname,
        // /proc/PID/net is the network namespace of PID, not of the reader.
        interfaces: proc("net/dev")
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(|n| n.trim().to_string())
            .collect(),
        mounts: mountinfo.lines().count(),
        root_fs: mountinfo
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .and_then(|l| l.split_once(" - "))
            .and_then(|(_, post)| post.split(' ').next())
            .unwrap_or("?")
            .to_string(),
        // Read from outside, /proc/PID/cgroup shows the host's path (v2's, else memory's).
        cgroup: {
            use crate::runtime::cgroups::mode::{parse_proc_cgroup, Mode};
            let map = parse_proc_cgroup(&proc("cgroup"));
            let v2 = st.cgroup.as_ref().map(|c| c.mode) == Some(Mode::Unified);
            map.get(if v2 { "" } else { "memory" }).cloned()
        },
        uid_map: proc("uid_map")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// One line on what sharing or not sharing this namespace means.
fn meaning(kind: &str, shared: bool, f: &Facts) -> String {
    match (kind, shared) {
        ("cgroup", false) => format!(
            "own cgroup root: inside, /proc/self/cgroup shows / (it is {} on the host)",
            f.cgroup.as_deref().unwrap_or("?")
        ),
        ("cgroup", true) => "sees the host's cgroup paths in /proc/self/cgroup".into(),
        ("ipc", false) => "own System V IPC objects and POSIX message queues".into(),
        ("ipc", true) => "shares System V IPC and message queues with the host".into(),
        ("mnt", false) => format!(
            "own mount table: {} mounts, root is {}",
            f.mounts, f.root_fs
        ),
        ("mnt", true) => "the host's mount table".into(),
        ("net", false) => format!(
            "own network stack, only {}",
            if f.interfaces.is_empty() {
                "(no interfaces)".to_string()
            } else {
                f.interfaces.join(" ")
            }
        ),
        ("net", true) => "the host's network stack and interfaces (--network host)".into(),
        ("pid", false) => match f.nspid.as_slice() {
            [host, .., inside] => {
                format!("own pid numbering: host pid {host} is pid {inside} inside")
            }
            _ => format!("own pid numbering: host pid {} is pid 1 inside", f.pid),
        },
        ("pid", true) => "the host's pids: it can see every process".into(),
        ("time", false) => "own CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets".into(),
        ("time", true) => "the host's clocks".into(),
        ("user", false) => format!("own users and ids, uid_map: {}", f.uid_map),
        ("user", true) => {
            "the host's users: uid 0 inside is root outside (capabilities are what limit it)".into()
        }
        ("uts", false) => format!(
            "own hostname: {}",
            f.hostname.as_deref().unwrap_or("(set by the spec)")
        ),
        ("uts", true) => "the host's hostname".into(),
        (_, true) => "shared with the host".into(),
        (_, false) => "its own".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_give_inodes() {
        assert_eq!(parse_link("net:[4026531840]"), Some(4026531840));
        assert_eq!(
            parse_link("pid_for_children:[4026532001]"),
            Some(4026532001)
        );
        assert_eq!(parse_link("garbage"), None);
    }

    #[test]
    fn meanings_use_the_facts() {
        let f = Facts {
            pid: 41233,
            nspid: vec!["41233".into(), "1".into()],
            hostname: Some("3f2a9c1d7b6e".into()),
            interfaces: vec!["lo".into()],
            ..Default::default()
        };
        assert_eq!(meaning("net", false, &f), "own network stack, only lo");
        assert_eq!(
            meaning("pid", false, &f),
            "own pid numbering: host pid 41233 is pid 1 inside"
        );
        assert_eq!(meaning("uts", false, &f), "own hostname: 3f2a9c1d7b6e");
        assert!(meaning("user", true, &f).contains("root outside"));
    }
}
