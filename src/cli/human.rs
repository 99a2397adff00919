//! Docker's human-readable durations and sizes (go-units' HumanDuration, HumanSize).

use std::time::Duration;

/// Docker's units.HumanDuration ("Less than a second", "About a minute", "3 hours"...).
pub fn duration(d: Duration) -> String {
    duration_secs(d.as_secs() as i64)
}

/// `duration` for a signed number of seconds.
pub fn duration_secs(secs: i64) -> String {
    let hours = (secs + 1800) / 3600; // rounded, as Go's d.Round(time.Hour)
    match secs {
        s if s < 1 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s / 60 == 1 => "About a minute".into(),
        s if s / 60 < 60 => format!("{} minutes", s / 60),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        s => format!("{} years", s / 3600 / 24 / 365),
    }
}

/// Docker's units.HumanSize: decimal units, 3 significant digits ("2.07MB", "512B").
pub fn size(n: u64) -> String {
    scaled(n, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB", "EB"], 3)
}

/// Binary sizes as `docker stats` prints memory (go-units' BytesSize, "%.4g"): "1.953MiB".
pub fn bytes(n: u64) -> String {
    scaled(
        n,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"],
        4,
    )
}

/// `n` divided down by `base` to its unit, printed like Go's %.Ng (trailing zeros dropped).
fn scaled(n: u64, base: f64, units: &[&str], significant: i32) -> String {
    let mut v = n as f64;
    let mut i = 0;
    while v >= base && i < units.len() - 1 {
        v /= base;
        i += 1;
    }
    let int_digits = if v >= 1.0 {
        v.log10().floor() as i32 + 1
    } else {
        1
    };
    let decimals = (significant - int_digits).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    s + units[i]
}

/// Time since an RFC 3339 timestamp, humanized; empty if it does not parse.
pub fn since(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => duration(
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .to_std()
                .unwrap_or_default(),
        ),
        Err(_) => String::new(),
    }
}

/// Print rows as columns separated by at least three spaces, like Docker's tables.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            l.push_str(c);
            if i < last {
                l.push_str(&" ".repeat(widths[i] - c.chars().count() + 3));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_match_docker() {
        assert_eq!(duration(Duration::from_millis(300)), "Less than a second");
        assert_eq!(duration(Duration::from_secs(5)), "5 seconds");
        assert_eq!(duration(Duration::from_secs(70)), "About a minute");
        assert_eq!(duration(Duration::from_secs(3 * 3600)), "3 hours");
        assert_eq!(duration(Duration::from_secs(3 * 86400)), "3 days");
        assert_eq!(size(512), "512B");
        assert_eq!(size(2_070_000), "2.07MB");
        assert_eq!(size(1_000), "1kB");
        assert_eq!(size(0), "0B");
        assert_eq!(size(12_300_000), "12.3MB");
        assert_eq!(size(2_140_160), "2.14MB");
        assert_eq!(bytes(2_048_000), "1.953MiB");
        assert_eq!(bytes(512), "512B");
        assert_eq!(duration_secs(90), "About a minute");
        assert_eq!(duration_secs(56 * 365 * 86400), "56 years");
        assert_eq!(bytes(2_048_000), "1.953MiB");
        assert_eq!(bytes(64 << 20), "64MiB");
        assert_eq!(bytes(512), "512B");
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&["A", "BB"], &[vec!["xxxx".into(), "y".into()]]);
        assert_eq!(t, "A      BB\nxxxx   y\n");
    }
}
