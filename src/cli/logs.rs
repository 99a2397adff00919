//! `nsbox logs`: the container's json-file log, as `docker logs` prints it.

use super::{ExitError, OutputError};
use crate::dataroot::DataRoot;
use crate::monitor::log::{self, Entry};
use crate::state::{Containers, Status};
use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::Args;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end ("all" for every line).
    #[arg(short = 'n', long = "tail", default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Only entries since a time: RFC 3339, Unix seconds, or a duration ago (10m, 1h30m).
    #[arg(long)]
    pub since: Option<String>,
    /// Only entries before a time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    pub container: String,
}

pub fn logs(root: &DataRoot, a: LogsArgs) -> Result<()> {
    let containers = Containers::open(root)?;
    let st = containers.resolve(&a.container)?;
    let now = Utc::now();
    let since = a.since.as_deref().map(|s| parse_time(s, now)).transpose()?;
    let until = a.until.as_deref().map(|s| parse_time(s, now)).transpose()?;
    let tail: Option<usize> = match a.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse()
                .map_err(|_| ExitError::new(125, format!("invalid tail value: {n}")))?,
        ),
    };
    let keep = |e: &Entry| {
        let t = DateTime::parse_from_rfc3339(&e.time).map(|t| t.with_timezone(&Utc));
        match t {
            Ok(t) => since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u),
            Err(_) => true,
        }
    };
    let mut entries: Vec<Entry> = log::read_all(&st.log_path)
        .into_iter()
        .filter(keep)
        .collect();
    if let Some(n) = tail {
        entries.drain(..entries.len().saturating_sub(n));
    }
    for e in &entries {
        print_entry(e, a.timestamps)?;
    }
    if a.follow && until.is_none() {
        let last = entries.last().cloned();
        follow(&containers, &st.id, &st.log_path, a.timestamps, last)?;
    }
    Ok(())
}

/// One entry to its stream. A stream that cannot be written ends `logs` (a closed pipe
/// quietly, in main): following a log nobody reads would never end.
fn print_entry(e: &Entry, timestamps: bool) -> Result<(), OutputError> {
    let line = if timestamps {
        format!("{} {}", e.time, e.log)
    } else {
        e.log.clone()
    };
    if e.stream == "stderr" {
        std::io::stderr().write_all(line.as_bytes())?;
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(line.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

/// Print entries as they are appended, until the container stops running and the log has
/// no more to give. A rotation (the file replaced) is followed to the new file.
/// `last`: the entry printed last. Reading goes from one open file to the next as the log
/// rotates under us, and the same entry can be met on both sides of a switch: it is printed
/// once (entries carry nanosecond times, so equal entries are the same entry).
fn follow(
    containers: &Containers,
    id: &str,
    path: &Path,
    timestamps: bool,
    mut last: Option<Entry>,
) -> Result<()> {
    let mut file = File::open(path).ok();
    let mut inode = file
        .as_ref()
        .and_then(|f| f.metadata().ok())
        .map(|m| m.ino());
    if let Some(f) = &mut file {
        f.seek(SeekFrom::End(0))?;
    }
    let mut reader = file.map(BufReader::new);
    let mut partial = String::new();
    loop {
        let mut got = false;
        if let Some(r) = &mut reader {
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        partial.push_str(&line);
                        if !partial.ends_with('\n') {
                            continue; // the monitor is still writing this entry
                        }
                        if let Ok(e) = serde_json::from_str::<Entry>(partial.trim_end()) {
                            if last.as_ref() != Some(&e) {
                                print_entry(&e, timestamps)?;
                                last = Some(e);
                            }
                        }
                        partial.clear();
                        got = true;
                    }
                }
            }
        }
        let running = containers
            .load(id)
            .map(|s| s.status == Status::Running && (s.is_alive() || s.monitor_pid > 0))
            .unwrap_or(false);
        // Rotated: the path now names a new file; read it from the start.
        let now_inode = std::fs::metadata(path).ok().map(|m| m.ino());
        if now_inode != inode {
            if let Ok(f) = File::open(path) {
                reader = Some(BufReader::new(f));
                inode = now_inode;
                partial.clear();
                continue;
            }
        }
        if !got && !running {
            return Ok(());
        }
        if !got {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Docker's `--since`/`--until`: RFC 3339, Unix seconds (with fraction), or a Go-style
/// duration ago (`90s`, `10m`, `1h30m`).
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let bad = || ExitError::new(125, format!("invalid time value: {s}"));
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(secs) = s.parse::<f64>() {
        let t = DateTime::from_timestamp((secs.trunc()) as i64, (secs.fract() * 1e9) as u32);
        return t.ok_or_else(|| bad().into());
    }
    let mut total = 0f64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total += n * match c {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return Err(bad().into()),
        };
    }
    if !num.is_empty() || s.is_empty() {
        return Err(bad().into());
    }
    Ok(now - chrono::Duration::milliseconds((total * 1000.0) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| parse_time(s, now).unwrap().to_rfc3339();
        assert_eq!(at("10m"), "2026-11-25T11:50:00+00:00");
        assert_eq!(at("1h30m"), "2026-11-25T10:30:00+00:00");
        assert_eq!(at("2026-11-25T11:00:00Z"), "2026-11-25T11:00:00+00:00");
        assert_eq!(at("0"), "1970-01-01T00:00:00+00:00");
        assert!(parse_time("soon", now).is_err());
        assert!(parse_time("10", now).is_ok());
        assert!(parse_time("5x", now).is_err());
    }
}
