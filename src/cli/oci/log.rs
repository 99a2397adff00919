//! runc's `--log FILE --log-format text|json`: where errors (and, with --debug, debug lines)
//! go. containerd's shim reads the last `"level":"error"` entry of the json log to report a
//! failed create or exec, so the message must be there, one entry per line.

use super::args::{Global, LogFormat};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

pub struct Log {
    file: Option<File>,
    format: LogFormat,
    debug: bool,
}

impl Log {
    /// The log of this invocation: `--log` (appended to, created 0600) or stderr.
    pub fn open(g: &Global) -> Log {
        let file = g.log.as_ref().and_then(|p| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(p)
                .ok()
        });
        Log {
            file,
            format: g.log_format,
            debug: g.debug,
        }
    }

    pub fn error(&self, msg: &str) {
        self.write("error", msg);
        // The caller always sees the error on stderr too, as runc prints it.
        if self.file.is_some() {
            eprintln!("nsbox-runtime: {msg}");
        }
    }

    pub fn warn(&self, msg: &str) {
        self.write("warning", msg);
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }

    fn write(&self, level: &str, msg: &str) {
        let line = render(self.format, level, msg);
        match &self.file {
            Some(f) => {
                let _ = (&*f).write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
        }
    }
}

/// One log line, newline-terminated.
pub fn render(format: LogFormat, level: &str, msg: &str) -> String {
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    match format {
        LogFormat::Json => {
            let v = serde_json::json!({"level": level, "msg": msg, "time": time});
            format!("{v}\n")
        }
        LogFormat::Text => match level {
            "error" => format!("nsbox-runtime: {msg}\n"),
            _ => format!("time=\"{time}\" level={level} msg={msg:?}\n"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_is_one_object_with_level_and_msg() {
        let line = render(LogFormat::Json, "error", "container \"x\" does not exist");
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"x\" does not exist");
    }
}
