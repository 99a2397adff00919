//! Finding and executing the user's command the way a shell would, but with the
//! container's PATH (execvp would use the launcher's environment, not the spec's).

use nix::unistd::{access, AccessFlags};
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why exec failed, with Docker's exit codes.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    NotInPath(String),
    #[error("exec: \"{0}\": no such file or directory")]
    NoSuchFile(String),
    #[error("exec: \"{0}\": permission denied")]
    PermissionDenied(String),
    #[error("exec: \"{0}\": {1}")]
    Other(String, nix::Error),
    #[error("exec: empty command")]
    Empty,
    #[error("exec: argument contains a NUL byte")]
    Nul,
}

impl ExecError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::NotInPath(_) | ExecError::NoSuchFile(_) => 127,
            ExecError::PermissionDenied(_) | ExecError::Other(..) => 126,
            ExecError::Empty | ExecError::Nul => 125,
        }
    }
}

/// The PATH value from a spec environment.
pub fn path_var(env: &[String]) -> &str {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

/// Will `cmd` be found and be executable? (`lookup`, and a path with a slash exists.)
pub fn check(cmd: &str, path: &str) -> Result<(), ExecError> {
    let found = lookup(cmd, path)?;
    match std::fs::metadata(&found) {
        Ok(md) if md.is_dir() || md.permissions().mode() & 0o111 == 0 => {
            Err(ExecError::PermissionDenied(cmd.to_string()))
        }
        Ok(_) => Ok(()),
        Err(_) => Err(ExecError::NoSuchFile(cmd.to_string())),
    }
}

/// Resolve `cmd` against `path` (relative to the current root).
pub fn lookup(cmd: &str, path: &str) -> Result<PathBuf, ExecError> {
    if cmd.is_empty() {
        return Err(ExecError::Empty);
    }
    if cmd.contains('/') {
        return Ok(PathBuf::from(cmd));
    }
    let mut denied = false;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(cmd);
        if let Ok(md) = std::fs::metadata(&candidate) {
            if md.is_file()
                && md.permissions().mode() & 0o111 != 0
                && access(&candidate, AccessFlags::X_OK).is_ok()
            {
                return Ok(candidate);
            }
            denied = true;
        }
    }
    if denied {
        return Err(ExecError::PermissionDenied(cmd.to_string()));
    }
    Err(ExecError::NotInPath(cmd.to_string()))
}

/// execve; returns only on failure.
pub fn exec(args: &[String], env: &[String]) -> ExecError {
    let Some(cmd) = args.first() else {
        return ExecError::Empty;
    };
    let prog = match lookup(cmd, path_var(env)) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let to_c = |v: &[String]| {
        v.iter()
            .map(|s| CString::new(s.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
    };
    let (Ok(cargs), Ok(cenv), Ok(cprog)) = (
        to_c(args),
        to_c(env),
        CString::new(prog.as_os_str().as_encoded_bytes()),
    ) else {
        return ExecError::Nul;
    };
    let err = match nix::unistd::execve(&cprog, &cargs, &cenv) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    match err {
        nix::Error::ENOENT => ExecError::NoSuchFile(cmd.clone()),
        nix::Error::EACCES | nix::Error::EPERM => ExecError::PermissionDenied(cmd.clone()),
        e => ExecError::Other(cmd.clone(), e),
    }
}

/// The `exec` step of `--explain`, for a spec process about to be exec'd.
pub fn narrate(process: &oci_spec::runtime::Process) {
    crate::explain::step("exec", || {
        format!(
            "{}  (uid {}, cwd {}, {} env vars)",
            process.args().as_deref().unwrap_or_default().join(" "),
            process.user().uid(),
            process.cwd().display(),
            process.env().as_ref().map_or(0, Vec::len)
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_uses_given_path_and_reports_docker_codes() {
        assert_eq!(
            lookup("sh", "/bin:/usr/bin").unwrap(),
            PathBuf::from("/bin/sh")
        );
        let e = lookup("no-such-cmd-xyz", "/bin").unwrap_err();
        assert_eq!(e.exit_code(), 127);
        assert!(e.to_string().contains("executable file not found in $PATH"));
        // /etc/passwd exists but is not executable.
        let e = lookup("passwd", "/etc").unwrap_err();
        assert_eq!(e.exit_code(), 126);
        assert_eq!(path_var(&["A=1".into(), "PATH=/x".into()]), "/x");
    }
}
