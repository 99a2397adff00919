//! `nsbox stats`: live resource usage of containers, read from their cgroups, like
//! `docker stats` plus a THROTTLED column — how many CFS periods the container spent
//! throttled, which is what `--cpus 0.2` looks like from the kernel's side.
//!
//! CPU % is Docker's: CPU time used over wall time between two samples × 100, so one
//! fully busy CPU is 100%. `--no-stream` samples twice, 500 ms apart, and prints once;
//! otherwise the screen is redrawn every second until Ctrl-C.
//!
//! Stopped containers: listed (with zeros) only with `-a`. Naming a stopped container
//! without `-a` is an error ("Container X is not running", exit 1), checked before
//! anything is printed.

use super::{human, ExitError, OutputError};
use crate::dataroot::DataRoot;
use crate::runtime::cgroups::{self, Cgroup};
use crate::state::{ContainerState, Containers};
use anyhow::Result;
use clap::{Args, ValueEnum};
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum StatsFormat {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatsFormat::Table)]
    pub format: StatsFormat,
    /// Containers (default: all running).
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// One container's numbers at one moment.
struct Sample {
    at: Instant,
    stats: cgroups::stats::Stats,
}

/// What one line shows.
struct Row {
    id: String,
    name: String,
    cpu_perc: f64,
    s: cgroups::stats::Stats,
}

impl Row {
    fn mem_perc(&self) -> f64 {
        if self.s.mem_limit == 0 {
            0.0
        } else {
            self.s.mem_usage as f64 / self.s.mem_limit as f64 * 100.0
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "ID": self.id,
            "Name": self.name,
            "CPUPerc": round2(self.cpu_perc),
            "MemUsage": self.s.mem_usage,
            "MemLimit": self.s.mem_limit,
            "MemPerc": round2(self.mem_perc()),
            "PIDs": self.s.pids_current,
            "PIDsLimit": self.s.pids_limit,
            "NrPeriods": self.s.nr_periods,
            "NrThrottled": self.s.nr_throttled,
            "ThrottledUsec": self.s.throttled_ns / 1000,
            "OOMKills": self.s.oom_kills,
        })
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.id[..self.id.len().min(12)].to_string(),
            self.name.clone(),
            format!("{:.2}%", self.cpu_perc),
            format!(
                "{} / {}",
                human::bytes(self.s.mem_usage),
                human::bytes(self.s.mem_limit)
            ),
            format!("{:.2}%", self.mem_perc()),
            self.s.pids_current.to_string(),
            self.s.nr_throttled.to_string(),
        ]
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

const HEADER: [&str; 7] = [
    "CONTAINER ID",
    "NAME",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "PIDS",
    "THROTTLED",
];

pub fn stats(root: &DataRoot, a: StatsArgs) -> Result<()> {
    let containers = Containers::open(root)?;
    // Named containers are resolved (and checked) once, up front.
    let named: Option<Vec<ContainerState>> = if a.containers.is_empty() {
        None
    } else {
        let mut list = Vec::new();
        for key in &a.containers {
            let st = containers.resolve(key)?;
            if !st.is_alive() && !a.all {
                return Err(ExitError::new(1, format!("Container {key} is not running")).into());
            }
            list.push(st);
        }
        Some(list)
    };
    let current = |containers: &Containers| -> Result<Vec<ContainerState>> {
        Ok(match &named {
            Some(list) => list.clone(),
            None => containers
                .list()?
                .into_iter()
                .filter(|c| a.all || c.is_alive())
                .collect(),
        })
    };

    let mut prev: HashMap<String, Sample> = HashMap::new();
    for st in current(&containers)? {
        if let Some(s) = sample(&st) {
            prev.insert(st.id.clone(), s);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let stdout = std::io::stdout();
    loop {
        let list = current(&containers)?;
        let mut rows = Vec::new();
        let mut next = HashMap::new();
        for st in &list {
            let now = sample(st);
            let cpu_perc = match (prev.get(&st.id), &now) {
                (Some(p), Some(n)) => cpu_percent(p, n),
                _ => 0.0,
            };
            rows.push(Row {
                id: st.id.clone(),
                name: st.name.clone(),
                cpu_perc,
                s: now.as_ref().map(|n| n.stats).unwrap_or_default(),
            });
            if let Some(n) = now {
                next.insert(st.id.clone(), n);
            }
        }
        prev = next;

        let mut out = String::new();
        match a.format {
            StatsFormat::Json => {
                for r in &rows {
                    out.push_str(&r.json().to_string());
                    out.push('\n');
                }
            }
            StatsFormat::Table => {
                if !a.no_stream {
                    // Docker's redraw: clear the screen, cursor home.
                    out.push_str("\x1b[2J\x1b[H");
                }
                let cells: Vec<Vec<String>> = rows.iter().map(Row::cells).collect();
                out.push_str(&human::table(&HEADER, &cells));
            }
        }
        let mut lock = stdout.lock();
        // A closed pipe (stats | head) ends the stream quietly (in main); ENOSPC is an error.
        lock.write_all(out.as_bytes())
            .and_then(|()| lock.flush())
            .map_err(OutputError::from)?;
        if a.no_stream {
            return Ok(());
        }
        drop(lock);
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The container's cgroup counters now; None when it is not running or has no cgroup.
fn sample(st: &ContainerState) -> Option<Sample> {
    if !st.is_alive() {
        return None;
    }
    let r = st.cgroup.as_ref()?;
    Some(Sample {
        at: Instant::now(),
        stats: cgroups::stats::read(&Cgroup::open(r)),
    })
}

/// CPU time used over wall time elapsed, in percent of one CPU.
fn cpu_percent(prev: &Sample, now: &Sample) -> f64 {
    let wall = now.at.duration_since(prev.at).as_nanos() as f64;
    let used = now
        .stats
        .cpu_usage_ns
        .saturating_sub(prev.stats.cpu_usage_ns) as f64;
    if wall <= 0.0 {
        0.0
    } else {
        used / wall * 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_is_cpu_time_over_wall_time() {
        let t0 = Instant::now();
        let s = |at, ns| Sample {
            at,
            stats: cgroups::stats::Stats {
                cpu_usage_ns: ns,
                ..Default::default()
            },
        };
        let p = s(t0, 1_000_000_000);
        let n = s(t0 + Duration::from_millis(500), 1_100_000_000);
        assert!((cpu_percent(&p, &n) - 20.0).abs() < 1e-6);
    }

    #[test]
    fn rows_render_like_docker() {
        let r = Row {
            id: "0123456789abcdef".into(),
            name: "s1".into(),
            cpu_perc: 19.996,
            s: cgroups::stats::Stats {
                mem_usage: 1 << 20,
                mem_limit: 64 << 20,
                pids_current: 2,
                nr_throttled: 7,
                ..Default::default()
            },
        };
        assert_eq!(
            r.cells(),
            [
                "0123456789ab",
                "s1",
                "20.00%",
                "1MiB / 64MiB",
                "1.56%",
                "2",
                "7"
            ]
        );
        let j = r.json();
        assert_eq!(j["MemLimit"], 64 << 20);
        assert_eq!(j["NrThrottled"], 7);
        assert_eq!(j["CPUPerc"], 20.0);
    }
}
