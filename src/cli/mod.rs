//! The command line: clap definitions, one file per command group, and the mapping of
//! errors to one-line messages with Docker's exit codes.

pub mod app;
pub mod cgroup_view;
pub mod container;
pub mod exec;
pub mod human;
pub mod image;
pub mod info;
pub mod inspect;
pub mod layers;
pub mod lifecycle;
pub mod logs;
pub mod machinery;
pub mod mounts;
pub mod ns;
pub mod oci;
pub mod resources;
pub mod run;
pub mod security;
pub mod stats;
pub mod system;
pub mod update;
pub mod userns;
pub mod volume;

use std::fmt;

/// Docker's exit codes for failures that are not the container's own status.
pub const EXIT_NSBOX: i32 = 125;

/// An error that carries the exit code nsbox should end with.
#[derive(Debug)]
pub struct ExitError {
    pub code: i32,
    pub msg: String,
}

impl ExitError {
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        ExitError {
            code,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ExitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for ExitError {}

/// The exit code for an error: the one it carries; else Docker's 1 for "No such
/// container/image/volume" outside `run` (`in_run` false); else 125.
pub fn exit_code_of(err: &anyhow::Error, in_run: bool) -> i32 {
    if let Some(e) = err.chain().find_map(|e| e.downcast_ref::<ExitError>()) {
        return e.code;
    }
    if !in_run && is_no_such_object(err) {
        return 1;
    }
    EXIT_NSBOX
}

fn is_no_such_object(err: &anyhow::Error) -> bool {
    use crate::image::ImageError;
    use crate::state::StateError;
    use crate::storage::volumes::VolumeError;
    err.chain().any(|e| {
        matches!(
            e.downcast_ref::<StateError>(),
            Some(StateError::NotFound(_))
        ) || matches!(
            e.downcast_ref::<ImageError>(),
            Some(ImageError::NotFound(_))
        ) || matches!(
            e.downcast_ref::<VolumeError>(),
            Some(VolumeError::NotFound(_))
        )
    })
}

impl ExitError {
    /// A failure whose message(s) are already on stderr (Docker's `rm a b`: one line per
    /// object that failed): main prints nothing more, only ends with `code`.
    pub fn reported(code: i32) -> Self {
        ExitError::new(code, String::new())
    }
}

/// One failed object of a command that goes on with the next one: one line on stderr.
/// A closed stderr is not a reason to stop (the exit code still says it).
pub fn report(err: &anyhow::Error) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "nsbox: {}", one_line(err));
}

/// anyhow's chain as one line: "outer: inner: root cause".
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        // Docker's client prefixes; here the one prefix is `nsbox: `.
        let s = s
            .strip_prefix("Error response from daemon: ")
            .or_else(|| s.strip_prefix("Error response: "))
            .or_else(|| s.strip_prefix("Error: "))
            .unwrap_or(&s)
            .to_string();
        if s.is_empty() || parts.iter().any(|p| p.contains(&s)) {
            continue;
        }
        parts.push(s);
    }
    // One line, and no raw control bytes (a template error can quote a NUL).
    parts
        .join(": ")
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => " ".to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_one_line_with_one_prefix() {
        let e = anyhow::anyhow!("Error: No such object: x\nsecond\u{0}line")
            .context("Error response from daemon: outer");
        assert_eq!(one_line(&e), "outer: No such object: x second\\u{0}line");
    }
}

/// A write to stdout that failed. A closed pipe (`| head -1`) is a quiet exit in main;
/// anything else (ENOSPC on /dev/full) is one line and a failure.
#[derive(Debug, thiserror::Error)]
#[error("write to stdout: {0}")]
pub struct OutputError(#[from] pub std::io::Error);

impl OutputError {
    pub fn is_closed_pipe(&self) -> bool {
        self.0.kind() == std::io::ErrorKind::BrokenPipe
    }
}

/// `print!` that returns the failure instead of panicking.
pub fn write_out(args: fmt::Arguments<'_>) -> Result<(), OutputError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)?;
    out.flush()?;
    Ok(())
}

/// `print!` for the CLI: `out!(...)?` ends the command quietly when stdout is a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_out(format_args!($($arg)*)) };
}

/// `println!` for the CLI, see `out!`.
macro_rules! outln {
    () => { $crate::cli::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {out, outln};

/// True when `err` is our stdout being a closed pipe. Only an `OutputError` says so: a
/// broken pipe anywhere else (the monitor's channel...) is a real failure.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<OutputError>()
            .is_some_and(OutputError::is_closed_pipe)
    })
}

/// Is the error already printed (see `ExitError::reported`)?
pub fn is_reported(err: &anyhow::Error) -> bool {
    err.chain()
        .find_map(|e| e.downcast_ref::<ExitError>())
        .is_some_and(|e| e.msg.is_empty())
}

/// A clap parse error as Docker prints it: one line, plus at most a one-line hint.
/// `unknown flag: --bogus` / `See 'nsbox run --help'.`
pub fn clap_error_lines(err: &clap::Error) -> (String, Option<String>) {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let rendered = err.render().to_string();
    let usage = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: "))
        .map(|u| {
            u.split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']) && !w.contains("..."))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|u| !u.is_empty());
    let hint = usage.map(|u| format!("See '{u} --help'."));
    let arg = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    // clap's first paragraph, on one line ("...not provided:\n  --input <FILE>").
    let first = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string();
    let first = if first.is_empty() {
        "invalid arguments".to_string()
    } else {
        first
    };
    let line = match (err.kind(), arg) {
        (ErrorKind::UnknownArgument, Some(a)) if a.starts_with("--") => {
            // "--bogus=1" is the flag "--bogus" with a value.
            let flag = a.split('=').next().unwrap_or(&a);
            format!("unknown flag: {flag}")
        }
        (ErrorKind::UnknownArgument, Some(a)) if a.len() > 1 && a.starts_with('-') => {
            let c = a[1..].chars().next().unwrap_or('-');
            format!("unknown shorthand flag: '{c}' in {a}")
        }
        _ => first,
    };
    (format!("nsbox: {line}"), hint)
}
