//! `nsbox info`: the host facts a learner needs before the first container — kernel,
//! cgroup layout and usable controllers, overlayfs, user and time namespaces, and what
//! the data root holds.

use super::cgroup_view::mode_name;
use super::human;
use super::machinery::Format;
use crate::dataroot::DataRoot;
use crate::image::ImageStore;
use crate::runtime::cgroups::mode::{self, Mode};
use crate::state::Containers;
use crate::storage::volumes::Volumes;
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Default)]
struct Counts {
    images: usize,
    running: usize,
    stopped: usize,
    volumes: usize,
}

pub fn info(root: &DataRoot, a: InfoArgs) -> Result<String> {
    let mode = mode::detect();
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let v1 = v1_controllers(
        &mountinfo,
        &fs::read_to_string("/proc/cgroups").unwrap_or_default(),
    );
    let v2 = v2_controllers(mode);
    let own = own_cgroup(mode);
    let kernel = read_trim("/proc/sys/kernel/osrelease");
    let overlay = fs::read_to_string("/proc/filesystems")
        .map(|t| has_overlay(&t))
        .unwrap_or(false);
    let backing = backing_fs(&mountinfo, root.path());
    let max_userns: u64 = read_trim("/proc/sys/user/max_user_namespaces")
        .parse()
        .unwrap_or(0);
    let timens = Path::new("/proc/self/ns/time").exists();
    let cgroupns = Path::new("/proc/self/ns/cgroup").exists();
    let counts = counts(root)?;

    if a.format == Format::Json {
        let v = json!({
            "NsboxVersion": env!("CARGO_PKG_VERSION"),
            "Kernel": kernel,
            "CgroupMode": mode_name(mode),
            "CgroupVersion": if mode == Mode::Unified { 2 } else { 1 },
            "CgroupControllers": {"v1": v1, "v2": v2},
            "OwnCgroup": own,
            "CgroupNamespaces": cgroupns,
            "Overlay": overlay,
            "DataRoot": root.path(),
            "BackingFilesystem": backing,
            "UserNamespaces": max_userns > 0,
            "MaxUserNamespaces": max_userns,
            "TimeNamespaces": timens,
            "Images": counts.images,
            "Containers": counts.running + counts.stopped,
            "ContainersRunning": counts.running,
            "ContainersStopped": counts.stopped,
            "Volumes": counts.volumes,
        });
        return Ok(format!("{v}\n"));
    }

    let yes_no = |b: bool, yes: &str, no: &str| if b { yes } else { no }.to_string();
    let list = |l: &[String]| {
        if l.is_empty() {
            "none".to_string()
        } else {
            l.join(" ")
        }
    };
    let mut rows: Vec<[String; 2]> = vec![
        ["nsbox".into(), env!("CARGO_PKG_VERSION").into()],
        ["Kernel".into(), kernel],
        ["Cgroup mode".into(), describe_mode(mode).into()],
    ];
    match mode {
        Mode::Unified => rows.push(["Cgroup v2 controllers".into(), list(&v2)]),
        Mode::Hybrid => {
            rows.push([
                "Cgroup v1 controllers".into(),
                format!("{} (nsbox uses these)", list(&v1)),
            ]);
            rows.push([
                "Cgroup v2 controllers".into(),
                format!("{} (at /sys/fs/cgroup/unified)", list(&v2)),
            ]);
        }
        Mode::Legacy => rows.push(["Cgroup v1 controllers".into(), list(&v1)]),
    }
    rows.extend([
        ["nsbox's own cgroup".into(), own_display(&own)],
        ["Cgroup namespaces".into(), yes_no(cgroupns, "yes", "no (kernel before 4.6)")],
        [
            "Overlay".into(),
            yes_no(overlay, "supported", "not in /proc/filesystems (modprobe overlay)"),
        ],
        [
            "User namespaces".into(),
            if max_userns > 0 {
                format!("available (max {max_userns}); nsbox does not create one: root inside is root outside")
            } else {
                "disabled (user.max_user_namespaces = 0)".into()
            },
        ],
        ["Time namespaces".into(), yes_no(timens, "yes", "no (kernel before 5.6)")],
        ["Data root".into(), root.path().display().to_string()],
        ["Backing filesystem".into(), backing],
        ["Images".into(), counts.images.to_string()],
        [
            "Containers".into(),
            format!(
                "{} ({} running, {} stopped)",
                counts.running + counts.stopped,
                counts.running,
                counts.stopped
            ),
        ],
        ["Volumes".into(), counts.volumes.to_string()],
    ]);
    let cells: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
    Ok(human::table(&["HOST FACT", "VALUE"], &cells))
}

fn describe_mode(mode: Mode) -> &'static str {
    match mode {
        Mode::Unified => "v2: one unified hierarchy at /sys/fs/cgroup",
        Mode::Hybrid => {
            "hybrid: v1 controller hierarchies under /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified"
        }
        Mode::Legacy => "v1: one hierarchy per controller under /sys/fs/cgroup",
    }
}

fn read_trim(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn has_overlay(filesystems: &str) -> bool {
    filesystems
        .lines()
        .any(|l| l.split_whitespace().last() == Some("overlay"))
}

/// Controllers of the mounted v1 hierarchies that /proc/cgroups lists as enabled
/// (named hierarchies like name=systemd are not controllers).
fn v1_controllers(mountinfo: &str, proc_cgroups: &str) -> Vec<String> {
    let known: Vec<String> = proc_cgroups
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split_whitespace().nth(3) == Some("1"))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((_, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut post = post.split(' ');
        if post.next() != Some("cgroup") {
            continue;
        }
        let opts = post.nth(1).unwrap_or("");
        for o in opts.split(',') {
            if known.iter().any(|k| k == o) && !out.iter().any(|c: &String| c == o) {
                out.push(o.to_string());
            }
        }
    }
    out.sort();
    out
}

/// What the cgroup2 hierarchy offers (its root's cgroup.controllers).
fn v2_controllers(mode: Mode) -> Vec<String> {
    let root = match mode {
        Mode::Unified => mode::ROOT.to_string(),
        Mode::Hybrid => format!("{}/unified", mode::ROOT),
        Mode::Legacy => return Vec::new(),
    };
    read_trim(&format!("{root}/cgroup.controllers"))
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Where nsbox itself sits: path → the controllers that have it ("" = v2).
fn own_cgroup(mode: Mode) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (ctrl, path) in mode::own_cgroups() {
        if mode == Mode::Unified && !ctrl.is_empty() {
            continue;
        }
        let name = if ctrl.is_empty() {
            "v2".to_string()
        } else {
            ctrl
        };
        out.entry(path).or_default().push(name);
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

fn own_display(own: &BTreeMap<String, Vec<String>>) -> String {
    own.iter()
        .map(|(p, c)| format!("{p} ({})", c.join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The filesystem type of the mount holding `path` (or its nearest existing parent).
fn backing_fs(mountinfo: &str, path: &Path) -> String {
    let mut p: PathBuf = path.to_path_buf();
    while !p.exists() {
        if !p.pop() {
            break;
        }
    }
    let p = fs::canonicalize(&p).unwrap_or(p);
    mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            Some((pre.split(' ').nth(4)?, post.split(' ').next()?))
        })
        .filter(|(mp, _)| p.starts_with(mp))
        // The last mount of the longest prefix is the one on top.
        .fold(None::<(&str, &str)>, |best, cur| match best {
            Some(b) if b.0.len() > cur.0.len() => Some(b),
            _ => Some(cur),
        })
        .map(|(_, t)| t.to_string())
        .unwrap_or_else(|| "?".into())
}

/// What the data root holds; a data root that does not exist yet holds nothing (and
/// `info` does not create it).
fn counts(root: &DataRoot) -> Result<Counts> {
    let mut c = Counts::default();
    if root.images().exists() {
        c.images = ImageStore::open(root)?.list()?.len();
    }
    if root.containers().exists() {
        for st in Containers::open(root)?.list()? {
            if st.is_alive() {
                c.running += 1;
            } else {
                c.stopped += 1;
            }
        }
    }
    if root.volumes().exists() {
        c.volumes = Volumes::open(root)?.list()?.len();
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_controllers_come_from_cgroup_mounts() {
        let mi =
            "35 24 0:30 / /sys/fs/cgroup/memory rw,relatime shared:13 - cgroup cgroup rw,memory\n\
                  36 24 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let pc =
            "#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t4\t10\t1\nhugetlb\t0\t1\t1\n";
        assert_eq!(v1_controllers(mi, pc), ["memory"]);
        assert!(v1_controllers(mi, "").is_empty());
    }

    #[test]
    fn overlay_and_backing_fs_are_read_from_proc() {
        assert!(has_overlay("nodev\tsysfs\nnodev\toverlay\n"));
        assert!(!has_overlay("nodev\toverlayfs2\n"));
        let mi = "1 0 0:1 / / rw - ext4 /dev/vda rw\n2 1 0:2 / /tmp rw - tmpfs tmpfs rw\n";
        assert_eq!(backing_fs(mi, Path::new("/tmp")), "tmpfs");
        assert_eq!(backing_fs(mi, Path::new("/")), "ext4");
    }
}
