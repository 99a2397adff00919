//! The process: ENTRYPOINT/CMD merging, environment, working directory, `--env-file`.

use oci_spec::image::{Config, ImageConfiguration};

use super::defaults::DEFAULT_PATH_ENV;
use super::{RunOptions, SpecError};

fn image_config(image: &ImageConfiguration) -> Option<&Config> {
    image.config().as_ref()
}

/// ENTRYPOINT/CMD merging (Docker's rules).
///
/// - `--entrypoint e`: entrypoint = `[e]` (one string, never shell-split), or none when `e`
///   is empty; either way the image CMD is dropped and only the command-line CMD is used.
/// - otherwise: the image ENTRYPOINT, then the command-line CMD, or the image CMD when the
///   command line gives none.
///
/// An empty result is Docker's `no command specified`.
pub fn process_args(
    image: &ImageConfiguration,
    opts: &RunOptions,
) -> Result<Vec<String>, SpecError> {
    let config = image_config(image);
    let (entrypoint, cmd): (Vec<String>, Vec<String>) = match &opts.entrypoint {
        Some(e) if e.is_empty() => (Vec::new(), opts.cmd.clone()),
        Some(e) => (vec![e.clone()], opts.cmd.clone()),
        None => {
            let entrypoint = config
                .and_then(|c| c.entrypoint().clone())
                .unwrap_or_default();
            let cmd = if opts.cmd.is_empty() {
                config.and_then(|c| c.cmd().clone()).unwrap_or_default()
            } else {
                opts.cmd.clone()
            };
            (entrypoint, cmd)
        }
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    Ok(args)
}

/// The key of a `K=V` (or bare `K`) entry.
fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// Docker's check on `-e` values: the name must not be empty (`=V` is rejected).
pub fn validate_env(entry: &str) -> Result<(), SpecError> {
    if env_key(entry).is_empty() {
        return Err(SpecError::InvalidEnv(entry.to_string()));
    }
    Ok(())
}

/// Replace-or-append (moby's `ReplaceOrAppendEnvValues`, but duplicates collapse: last value
/// wins, at the position of the first). A bare `K` (no `=`) unsets K.
fn replace_or_append(env: &mut Vec<String>, overrides: &[String]) {
    for entry in overrides {
        let key = env_key(entry);
        let pos = env.iter().position(|e| env_key(e) == key);
        match (entry.contains('='), pos) {
            (true, Some(i)) => env[i] = entry.clone(),
            (true, None) => env.push(entry.clone()),
            (false, Some(i)) => {
                env.remove(i);
            }
            (false, None) => {}
        }
    }
}

/// The container's environment.
///
/// Order: `PATH` (Docker's default unless the image or `-e` sets one), `HOSTNAME=<hostname>`,
/// `TERM=xterm` with a tty, then the image's Env and the `-e`/`--env-file` entries, each
/// replacing same-named keys in place (last wins) — so the image and the user can override
/// the three defaults, as in Docker. A bare `K` in `opts.env` unsets K (Docker's `-e K` with K
/// unset on the host). Finally `HOME` when still unset: `home`, else `/` (runc's default).
pub fn process_env(
    image: &ImageConfiguration,
    opts: &RunOptions,
    hostname: &str,
    home: Option<&str>,
) -> Result<Vec<String>, SpecError> {
    for entry in &opts.env {
        validate_env(entry)?;
    }
    let mut env = vec![DEFAULT_PATH_ENV.to_string(), format!("HOSTNAME={hostname}")];
    if opts.tty {
        env.push("TERM=xterm".to_string());
    }
    let image_env = image_config(image)
        .and_then(|c| c.env().clone())
        .unwrap_or_default();
    // Image Env entries are K=V by construction; skip anything unusable rather than fail.
    let image_env: Vec<String> = image_env
        .into_iter()
        .filter(|e| e.contains('=') && !env_key(e).is_empty())
        .collect();
    replace_or_append(&mut env, &image_env);
    replace_or_append(&mut env, &opts.env);
    if !env.iter().any(|e| env_key(e) == "HOME") {
        env.push(format!("HOME={}", home.unwrap_or("/")));
    }
    Ok(env)
}

/// Parse Docker's `--env-file` format: leading whitespace trimmed, blank lines and `#`
/// comments skipped, `K=V` kept verbatim (the value is not trimmed or unquoted), a bare `K`
/// returned bare so the caller can take it from the host (see [`expand_env_args`]).
pub fn parse_env_file(contents: &str) -> Result<Vec<String>, SpecError> {
    let contents = contents.strip_prefix('\u{feff}').unwrap_or(contents);
    let mut out = Vec::new();
    for line in contents.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (variable, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        if variable.is_empty() {
            return Err(SpecError::EnvFile(format!(
                "no variable name on line '{line}'"
            )));
        }
        let bad = match value {
            Some(_) => variable.contains(char::is_whitespace),
            // A bare name may carry trailing whitespace (Docker trims it).
            None => variable.trim_end().contains(char::is_whitespace),
        };
        if bad {
            return Err(SpecError::EnvFile(format!(
                "poorly formatted environment: variable '{}' contains whitespaces",
                variable.trim_end()
            )));
        }
        out.push(match value {
            Some(v) => format!("{variable}={v}"),
            None => variable.trim_end().to_string(),
        });
    }
    Ok(out)
}

/// Expand bare `K` entries from the host: `K=<value>`, or dropped when the host has no K
/// (Docker's `--env-file` behaviour). `K=V` entries pass through.
pub fn expand_env_args(args: &[String], host: impl Fn(&str) -> Option<String>) -> Vec<String> {
    args.iter()
        .filter_map(|a| {
            if a.contains('=') {
                Some(a.clone())
            } else {
                host(a).map(|v| format!("{a}={v}"))
            }
        })
        .collect()
}

/// Like [`expand_env_args`] but for `-e` flags: a bare `K` unset on the host stays bare, which
/// [`process_env`] treats as "unset K" (Docker's `-e K` removes K from the image env).
pub fn expand_env_flags(args: &[String], host: impl Fn(&str) -> Option<String>) -> Vec<String> {
    args.iter()
        .map(|a| {
            if a.contains('=') {
                a.clone()
            } else {
                host(a).map_or_else(|| a.clone(), |v| format!("{a}={v}"))
            }
        })
        .collect()
}

/// Lexically clean an absolute path (Go's `filepath.Clean`): collapse `//`, `.` and `..`.
fn clean_abs(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `-w` if given (and non-empty), else the image's WorkingDir, else `/`. Must be absolute;
/// the result is cleaned like Docker does.
pub fn working_dir(image: &ImageConfiguration, opts: &RunOptions) -> Result<String, SpecError> {
    let dir = opts
        .workdir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| image_config(image).and_then(|c| c.working_dir().clone()))
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".to_string());
    if !dir.starts_with('/') {
        return Err(SpecError::InvalidWorkdir(dir));
    }
    Ok(clean_abs(&dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::ConfigBuilder;

    fn image(entrypoint: &[&str], cmd: &[&str]) -> ImageConfiguration {
        let mut b = ConfigBuilder::default();
        if !entrypoint.is_empty() {
            b = b.entrypoint(entrypoint.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        }
        if !cmd.is_empty() {
            b = b.cmd(cmd.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        }
        let mut img = ImageConfiguration::default();
        img.set_config(Some(b.build().unwrap()));
        img
    }

    fn image_env(env: &[&str]) -> ImageConfiguration {
        let mut img = ImageConfiguration::default();
        img.set_config(Some(
            ConfigBuilder::default()
                .env(env.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .build()
                .unwrap(),
        ));
        img
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn opts_cmd(cmd: &[&str]) -> RunOptions {
        RunOptions {
            cmd: strings(cmd),
            ..Default::default()
        }
    }

    #[test]
    fn image_entrypoint_and_cmd_concatenate() {
        let img = image(&["/entry", "-x"], &["default"]);
        let args = process_args(&img, &RunOptions::default()).unwrap();
        assert_eq!(args, strings(&["/entry", "-x", "default"]));
    }

    #[test]
    fn user_cmd_replaces_image_cmd_keeps_entrypoint() {
        let img = image(&["/entry"], &["default"]);
        let args = process_args(&img, &opts_cmd(&["mine", "arg"])).unwrap();
        assert_eq!(args, strings(&["/entry", "mine", "arg"]));
    }

    #[test]
    fn only_cmd_or_only_entrypoint() {
        let args = process_args(&image(&[], &["sh", "-c", "x"]), &RunOptions::default());
        assert_eq!(args.unwrap(), strings(&["sh", "-c", "x"]));
        let args = process_args(&image(&["/bin/app"], &[]), &RunOptions::default());
        assert_eq!(args.unwrap(), strings(&["/bin/app"]));
        let args = process_args(&image(&[], &["sh"]), &opts_cmd(&["echo", "hi"]));
        assert_eq!(args.unwrap(), strings(&["echo", "hi"]));
    }

    #[test]
    fn entrypoint_flag_is_one_word_and_resets_image_cmd() {
        let img = image(&["/entry"], &["default"]);
        let opts = RunOptions {
            entrypoint: Some("/bin/echo hello".into()),
            ..Default::default()
        };
        assert_eq!(
            process_args(&img, &opts).unwrap(),
            strings(&["/bin/echo hello"])
        );
        let opts = RunOptions {
            entrypoint: Some("/bin/echo".into()),
            cmd: strings(&["a", "b"]),
            ..Default::default()
        };
        assert_eq!(
            process_args(&img, &opts).unwrap(),
            strings(&["/bin/echo", "a", "b"])
        );
    }

    #[test]
    fn empty_entrypoint_flag_clears_entrypoint_and_image_cmd() {
        let img = image(&["/entry"], &["default"]);
        let opts = RunOptions {
            entrypoint: Some(String::new()),
            cmd: strings(&["ls", "/"]),
            ..Default::default()
        };
        assert_eq!(process_args(&img, &opts).unwrap(), strings(&["ls", "/"]));
        let opts = RunOptions {
            entrypoint: Some(String::new()),
            ..Default::default()
        };
        let err = process_args(&img, &opts).unwrap_err();
        assert_eq!(err.to_string(), "no command specified");
    }

    #[test]
    fn nothing_to_run_is_no_command_specified() {
        let err = process_args(&ImageConfiguration::default(), &RunOptions::default()).unwrap_err();
        assert!(matches!(err, SpecError::NoCommand));
        assert_eq!(err.to_string(), "no command specified");
    }

    #[test]
    fn env_defaults_path_hostname_home() {
        let env = process_env(
            &ImageConfiguration::default(),
            &RunOptions::default(),
            "abc",
            None,
        )
        .unwrap();
        assert_eq!(env, strings(&[DEFAULT_PATH_ENV, "HOSTNAME=abc", "HOME=/"]));
    }

    #[test]
    fn image_path_replaces_default_and_image_env_kept() {
        let img = image_env(&["PATH=/opt/bin", "LANG=C.UTF-8"]);
        let env = process_env(&img, &RunOptions::default(), "h", Some("/root")).unwrap();
        assert_eq!(
            env,
            strings(&["PATH=/opt/bin", "HOSTNAME=h", "LANG=C.UTF-8", "HOME=/root"])
        );
    }

    #[test]
    fn user_env_overrides_last_wins_order_stable() {
        let img = image_env(&["A=image", "B=image"]);
        let opts = RunOptions {
            env: strings(&["B=one", "C=new", "B=two", "HOSTNAME=mine"]),
            ..Default::default()
        };
        let env = process_env(&img, &opts, "h", None).unwrap();
        assert_eq!(
            env,
            strings(&[
                DEFAULT_PATH_ENV,
                "HOSTNAME=mine",
                "A=image",
                "B=two",
                "C=new",
                "HOME=/"
            ])
        );
    }

    #[test]
    fn tty_sets_term_and_user_home_is_kept() {
        let opts = RunOptions {
            tty: true,
            env: strings(&["HOME=/custom"]),
            ..Default::default()
        };
        let env = process_env(&ImageConfiguration::default(), &opts, "h", Some("/root")).unwrap();
        assert!(env.contains(&"TERM=xterm".to_string()));
        assert!(env.contains(&"HOME=/custom".to_string()));
        assert!(!env.contains(&"HOME=/root".to_string()));
        let env = process_env(
            &ImageConfiguration::default(),
            &RunOptions::default(),
            "h",
            None,
        )
        .unwrap();
        assert!(!env.iter().any(|e| e.starts_with("TERM=")));
    }

    #[test]
    fn bare_key_unsets_and_empty_key_is_error() {
        let img = image_env(&["FOO=bar", "KEEP=1"]);
        let opts = RunOptions {
            env: strings(&["FOO"]),
            ..Default::default()
        };
        let env = process_env(&img, &opts, "h", None).unwrap();
        assert!(!env.iter().any(|e| e.starts_with("FOO")));
        assert!(env.contains(&"KEEP=1".to_string()));
        let opts = RunOptions {
            env: strings(&["=oops"]),
            ..Default::default()
        };
        let err = process_env(&img, &opts, "h", None).unwrap_err();
        assert_eq!(err.to_string(), "invalid environment variable: =oops");
    }

    #[test]
    fn env_file_parsing() {
        let text = "\u{feff}# comment\n\n  A=1\nB= spaced value \nC=\nBARE\nD=x=y\n   # indented comment\n";
        assert_eq!(
            parse_env_file(text).unwrap(),
            strings(&["A=1", "B= spaced value ", "C=", "BARE", "D=x=y"])
        );
    }

    #[test]
    fn env_file_errors() {
        let err = parse_env_file("=novar\n").unwrap_err();
        assert_eq!(err.to_string(), "no variable name on line '=novar'");
        let err = parse_env_file("MY VAR=1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "poorly formatted environment: variable 'MY VAR' contains whitespaces"
        );
        assert_eq!(parse_env_file("TRAIL  \n").unwrap(), strings(&["TRAIL"]));
    }

    #[test]
    fn expand_bare_keys_from_host() {
        let host = |k: &str| (k == "SET").then(|| "v".to_string());
        let args = strings(&["SET", "UNSET", "K=V"]);
        assert_eq!(expand_env_args(&args, host), strings(&["SET=v", "K=V"]));
        assert_eq!(
            expand_env_flags(&args, host),
            strings(&["SET=v", "UNSET", "K=V"])
        );
    }

    #[test]
    fn workdir_default_image_and_flag() {
        let none = ImageConfiguration::default();
        assert_eq!(working_dir(&none, &RunOptions::default()).unwrap(), "/");
        let mut img = ImageConfiguration::default();
        img.set_config(Some(
            ConfigBuilder::default()
                .working_dir("/app")
                .build()
                .unwrap(),
        ));
        assert_eq!(working_dir(&img, &RunOptions::default()).unwrap(), "/app");
        let opts = RunOptions {
            workdir: Some("/tmp//x/./y/..".into()),
            ..Default::default()
        };
        assert_eq!(working_dir(&img, &opts).unwrap(), "/tmp/x");
    }

    #[test]
    fn relative_workdir_is_docker_error() {
        let opts = RunOptions {
            workdir: Some("rel/dir".into()),
            ..Default::default()
        };
        let err = working_dir(&ImageConfiguration::default(), &opts).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the working directory 'rel/dir' is invalid, it needs to be an absolute path"
        );
    }
}
