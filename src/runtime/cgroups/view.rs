//! A read-only look at a container's cgroup for `nsbox cgroup`: where it is on each
//! hierarchy, and its limits, usage, peaks and event counters, file by file, so that a
//! learner can `cat` the same files. Files the kernel does not have (a controller that
//! is not mounted, memory.peak before Linux 5.19) are left out.

use super::{Cgroup, Mode};
use std::fs;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Limit,
    Usage,
    Peak,
    Event,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Limit => "limit",
            Kind::Usage => "usage",
            Kind::Peak => "peak",
            Kind::Event => "event",
        }
    }
}

/// How to read a value for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Bytes,
    Count,
    Micros,
    Nanos,
    /// As is (cpuset lists, cpu.max "quota period", device lists).
    Text,
}

struct FileSpec {
    file: &'static str,
    /// For "key value" files (cpu.stat, memory.events): the key.
    key: Option<&'static str>,
    kind: Kind,
    unit: Unit,
    what: &'static str,
}

const fn f(file: &'static str, kind: Kind, unit: Unit, what: &'static str) -> FileSpec {
    FileSpec {
        file,
        key: None,
        kind,
        unit,
        what,
    }
}

const fn k(
    file: &'static str,
    key: &'static str,
    kind: Kind,
    unit: Unit,
    what: &'static str,
) -> FileSpec {
    FileSpec {
        file,
        key: Some(key),
        kind,
        unit,
        what,
    }
}

use Kind::*;
use Unit::*;

const V1: &[FileSpec] = &[
    f("memory.limit_in_bytes", Limit, Bytes, "memory limit"),
    f(
        "memory.soft_limit_in_bytes",
        Limit,
        Bytes,
        "memory reservation (soft limit)",
    ),
    f(
        "memory.memsw.limit_in_bytes",
        Limit,
        Bytes,
        "memory+swap limit",
    ),
    f(
        "cpu.cfs_quota_us",
        Limit,
        Micros,
        "CPU time allowed per period (-1: none)",
    ),
    f("cpu.cfs_period_us", Limit, Micros, "CFS period"),
    f(
        "cpu.shares",
        Limit,
        Count,
        "relative CPU weight (1024 = default)",
    ),
    f("cpuset.cpus", Limit, Text, "CPUs it may run on"),
    f("cpuset.mems", Limit, Text, "memory nodes it may use"),
    f("pids.max", Limit, Count, "max processes and threads"),
    f("blkio.weight", Limit, Count, "relative block I/O weight"),
    f(
        "blkio.throttle.read_bps_device",
        Limit,
        Text,
        "read bytes/s per device",
    ),
    f(
        "blkio.throttle.write_bps_device",
        Limit,
        Text,
        "write bytes/s per device",
    ),
    f(
        "memory.usage_in_bytes",
        Usage,
        Bytes,
        "memory in use, page cache included",
    ),
    f("cpuacct.usage", Usage, Nanos, "CPU time used"),
    f("pids.current", Usage, Count, "processes and threads now"),
    f(
        "memory.max_usage_in_bytes",
        Peak,
        Bytes,
        "highest memory use",
    ),
    f(
        "pids.peak",
        Peak,
        Count,
        "most processes and threads at once",
    ),
    f(
        "memory.failcnt",
        Event,
        Count,
        "times memory use hit the limit",
    ),
    k(
        "memory.oom_control",
        "oom_kill",
        Event,
        Count,
        "processes the OOM killer killed",
    ),
    k(
        "cpu.stat",
        "nr_periods",
        Event,
        Count,
        "CFS periods with runnable tasks",
    ),
    k(
        "cpu.stat",
        "nr_throttled",
        Event,
        Count,
        "periods throttled: quota used up",
    ),
    k(
        "cpu.stat",
        "throttled_time",
        Event,
        Nanos,
        "time spent throttled",
    ),
    k(
        "pids.events",
        "max",
        Event,
        Count,
        "forks refused at pids.max",
    ),
];

const V2: &[FileSpec] = &[
    f("memory.max", Limit, Bytes, "memory limit"),
    f(
        "memory.low",
        Limit,
        Bytes,
        "memory reservation (protected below this)",
    ),
    f("memory.swap.max", Limit, Bytes, "swap limit"),
    f("cpu.max", Limit, Text, "CPU quota and period, µs"),
    f(
        "cpu.weight",
        Limit,
        Count,
        "relative CPU weight (100 = default)",
    ),
    f("cpuset.cpus", Limit, Text, "CPUs it may run on"),
    f("cpuset.mems", Limit, Text, "memory nodes it may use"),
    f("pids.max", Limit, Count, "max processes and threads"),
    f("io.bfq.weight", Limit, Text, "relative block I/O weight"),
    f("io.max", Limit, Text, "I/O limits per device"),
    f(
        "memory.current",
        Usage,
        Bytes,
        "memory in use, page cache included",
    ),
    f("memory.swap.current", Usage, Bytes, "swap in use"),
    k("cpu.stat", "usage_usec", Usage, Micros, "CPU time used"),
    f("pids.current", Usage, Count, "processes and threads now"),
    f("memory.peak", Peak, Bytes, "highest memory use"),
    f(
        "pids.peak",
        Peak,
        Count,
        "most processes and threads at once",
    ),
    k(
        "memory.events",
        "max",
        Event,
        Count,
        "times memory use hit memory.max",
    ),
    k(
        "memory.events",
        "oom_kill",
        Event,
        Count,
        "processes the OOM killer killed",
    ),
    k(
        "cpu.stat",
        "nr_periods",
        Event,
        Count,
        "CFS periods with runnable tasks",
    ),
    k(
        "cpu.stat",
        "nr_throttled",
        Event,
        Count,
        "periods throttled: quota used up",
    ),
    k(
        "cpu.stat",
        "throttled_usec",
        Event,
        Micros,
        "time spent throttled",
    ),
    k(
        "pids.events",
        "max",
        Event,
        Count,
        "forks refused at pids.max",
    ),
];

/// One value read from one cgroup file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub file: &'static str,
    pub key: Option<&'static str>,
    pub kind: Kind,
    /// The value as the kernel wrote it (lines joined with ", ").
    pub raw: String,
    /// What it means, humanized ("64MiB", "no limit", "0.2 CPUs").
    pub meaning: String,
    pub what: &'static str,
}

impl Entry {
    /// "cpu.stat nr_throttled", or just the file name.
    pub fn name(&self) -> String {
        match self.key {
            Some(k) => format!("{} {k}", self.file),
            None => self.file.to_string(),
        }
    }
}

/// The cgroup's directory on each hierarchy: (controller, dir). v2 has one, named "unified".
pub fn paths(cg: &Cgroup) -> Vec<(String, PathBuf)> {
    if cg.reference.mode == Mode::Unified {
        return cg
            .dirs()
            .into_iter()
            .map(|d| ("unified".to_string(), d))
            .collect();
    }
    let mut out: Vec<(String, PathBuf)> = cg
        .cg
        .subsystems()
        .iter()
        .map(|s| (s.controller_name(), s.to_controller().path().to_path_buf()))
        .collect();
    out.sort();
    out
}

/// Every known file of this cgroup that exists, limits first, then usage, peaks, events.
pub fn read(cg: &Cgroup) -> Vec<Entry> {
    let v2 = cg.reference.mode == Mode::Unified;
    let table = if v2 { V2 } else { V1 };
    let mut out = Vec::new();
    for spec in table {
        let dir = if v2 {
            cg.dirs().into_iter().next()
        } else {
            spec.file.split('.').next().and_then(|c| cg.dir_of(c))
        };
        let Some(text) = dir.and_then(|d| fs::read_to_string(d.join(spec.file)).ok()) else {
            continue;
        };
        let raw = match spec.key {
            Some(key) => match keyed_value(&text, key) {
                Some(v) => v,
                None => continue,
            },
            None => text.trim().lines().collect::<Vec<_>>().join(", "),
        };
        out.push(Entry {
            file: spec.file,
            key: spec.key,
            kind: spec.kind,
            meaning: meaning(spec, &raw),
            raw,
            what: spec.what,
        });
    }
    out
}

fn keyed_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().to_string())
    })
}

/// v1 writes "no limit" as the largest page-aligned i64; anything this big is none.
const NO_LIMIT_V1: u64 = 1 << 62;

fn meaning(spec: &FileSpec, raw: &str) -> String {
    if raw == "max" {
        return "no limit".to_string();
    }
    if spec.file == "cpu.max" {
        return cpu_max(raw);
    }
    if raw.is_empty() {
        return "none".to_string();
    }
    let Ok(n) = raw.parse::<i64>() else {
        return raw.to_string();
    };
    if spec.kind == Kind::Limit && (n < 0 || n as u64 >= NO_LIMIT_V1) {
        return "no limit".to_string();
    }
    let n = n.unsigned_abs();
    match spec.unit {
        Bytes => bytes(n),
        Micros => duration(n as f64 / 1e6),
        Nanos => duration(n as f64 / 1e9),
        Count | Text => n.to_string(),
    }
}

/// "20000 100000" → "0.2 CPUs (20000 µs every 100000 µs)".
fn cpu_max(raw: &str) -> String {
    let mut it = raw.split_whitespace();
    match (it.next(), it.next().and_then(|p| p.parse::<f64>().ok())) {
        (Some("max"), _) => "no limit".to_string(),
        (Some(q), Some(p)) if p > 0.0 => match q.parse::<f64>() {
            Ok(q) => format!("{} CPUs", round2(q / p)),
            Err(_) => raw.to_string(),
        },
        _ => raw.to_string(),
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{}{}", round2(v), UNITS[i])
    }
}

fn duration(secs: f64) -> String {
    if secs >= 1.0 {
        format!("{}s", round2(secs))
    } else {
        format!("{}ms", round2(secs * 1000.0))
    }
}

/// A limit written by nsbox, as a number where the file holds one (for JSON).
pub fn as_number(raw: &str) -> Option<i64> {
    raw.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_of(file: &str, key: Option<&str>) -> &'static FileSpec {
        V1.iter()
            .chain(V2)
            .find(|s| s.file == file && s.key == key)
            .unwrap()
    }

    #[test]
    fn values_read_like_a_person_would() {
        let lim = spec_of("memory.limit_in_bytes", None);
        assert_eq!(meaning(lim, "67108864"), "64MiB");
        assert_eq!(meaning(lim, "9223372036854771712"), "no limit");
        assert_eq!(meaning(spec_of("memory.max", None), "max"), "no limit");
        assert_eq!(meaning(spec_of("cpu.cfs_quota_us", None), "-1"), "no limit");
        assert_eq!(meaning(spec_of("cpu.cfs_quota_us", None), "20000"), "20ms");
        assert_eq!(
            meaning(spec_of("cpu.max", None), "20000 100000"),
            "0.2 CPUs"
        );
        assert_eq!(meaning(spec_of("cpu.max", None), "max 100000"), "no limit");
        assert_eq!(meaning(spec_of("cpuset.cpus", None), "0-1"), "0-1");
        assert_eq!(
            meaning(spec_of("cpu.stat", Some("nr_throttled")), "24"),
            "24"
        );
        assert_eq!(meaning(spec_of("memory.peak", None), "421888"), "412KiB");
    }

    #[test]
    fn keyed_files_give_one_value() {
        let t = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(keyed_value(t, "oom_kill").as_deref(), Some("2"));
        assert_eq!(keyed_value(t, "oom"), None);
    }
}
