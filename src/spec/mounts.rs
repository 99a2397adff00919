//! Docker's three ways to ask for a mount — `-v/--volume`, `--mount` and `--tmpfs` — parsed
//! into one list of [`MountRequest`]s, validated, and turned into OCI mounts once their host
//! sources are known. Pure: the CLI creates volumes and checks host paths.

use super::resources::parse_size;
use super::SpecError;
use oci_spec::runtime::Mount;
use std::path::{Component, Path, PathBuf};

/// What is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A host path. `create` for `-v`: a missing host dir is made (Docker's old rule);
    /// `--mount` refuses a missing source instead.
    Bind { source: PathBuf, create: bool },
    /// A named volume, or an anonymous one (`None`) that gets a fresh 64-hex name.
    Volume { name: Option<String>, nocopy: bool },
    /// A tmpfs with these extra mount options (size=, mode=, exec ...).
    Tmpfs { options: Vec<String> },
}

/// One mount the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRequest {
    pub kind: MountKind,
    /// Absolute, without `.` or `..` components.
    pub target: String,
    pub read_only: bool,
    /// Bind propagation; binds default to `rprivate`, others have none.
    pub propagation: Option<String>,
    /// The mode as the user wrote it (`-v`'s third field), for `inspect`.
    pub mode: String,
}

impl MountRequest {
    /// A request with Docker's propagation rule: binds default to `rprivate`, other kinds
    /// have none.
    fn new(
        kind: MountKind,
        target: String,
        read_only: bool,
        propagation: Option<String>,
        mode: String,
    ) -> Self {
        let propagation = match kind {
            MountKind::Bind { .. } => propagation.or_else(|| Some("rprivate".to_string())),
            _ => None,
        };
        MountRequest {
            kind,
            target,
            read_only,
            propagation,
            mode,
        }
    }
}

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// Options Docker gives every tmpfs before the user's own.
const TMPFS_DEFAULTS: [&str; 3] = ["noexec", "nosuid", "nodev"];

fn invalid(msg: impl Into<String>) -> SpecError {
    SpecError::Invalid(msg.into())
}

/// A container path Docker would accept: absolute, no `..`, not `/` and not `/proc`
/// (the container's own proc filesystem lives there). Returns it cleaned.
pub fn check_target(target: &str) -> Result<String, SpecError> {
    let p = Path::new(target);
    if !p.is_absolute() {
        return Err(invalid(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        )));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(invalid(format!(
            "invalid mount path: '{target}' must not contain '..'"
        )));
    }
    let clean: PathBuf = p.components().collect();
    let clean = clean.display().to_string();
    if clean == "/" {
        return Err(invalid("invalid mount config: destination can't be '/'"));
    }
    if clean == "/proc" || clean.starts_with("/proc/") {
        return Err(invalid(format!(
            "invalid mount path: '{clean}' is reserved for the container's /proc"
        )));
    }
    Ok(clean)
}

/// `-v` / `--volume`: `CTR`, `NAME:CTR[:OPTS]` or `HOST:CTR[:OPTS]`. `cwd` resolves a
/// `./relative` host path (the CLI passes its working directory).
pub fn parse_volume_flag(spec: &str, cwd: &Path) -> Result<MountRequest, SpecError> {
    let bad_spec = || invalid(format!("invalid volume specification: '{spec}'"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts[..] {
        [t] => (None, t, ""),
        // `/foo:ro` is a destination and a mode: a volume needs a source for a mode.
        [_, m] if is_mode(m) => return Err(bad_spec()),
        [s, t] => (Some(s), t, ""),
        [s, t, m] => (Some(s), t, m),
        _ => return Err(bad_spec()),
    };
    if target.is_empty() || source == Some("") {
        return Err(bad_spec());
    }
    let target = check_target(target)?;
    let mut read_only = false;
    let mut nocopy = false;
    let mut propagation = None;
    let (mut seen_rw, mut seen_prop, mut seen_copy) = (false, false, false);
    for opt in mode.split(',').filter(|o| !o.is_empty()) {
        let dup = match opt {
            "ro" | "rw" => std::mem::replace(&mut seen_rw, true),
            "nocopy" => std::mem::replace(&mut seen_copy, true),
            p if PROPAGATIONS.contains(&p) => std::mem::replace(&mut seen_prop, true),
            // SELinux relabel and macOS consistency flags: accepted, nothing to do here.
            "z" | "Z" | "consistent" | "cached" | "delegated" => false,
            _ => return Err(invalid(format!("invalid mode: {mode}"))),
        };
        if dup {
            return Err(invalid(format!("invalid mode: {mode}")));
        }
        match opt {
            "ro" => read_only = true,
            "nocopy" => nocopy = true,
            p if PROPAGATIONS.contains(&p) => propagation = Some(p.to_string()),
            _ => {}
        }
    }
    let kind = match source {
        None => MountKind::Volume { name: None, nocopy },
        Some(s) if s.starts_with('/') || s.starts_with('.') => {
            if nocopy {
                return Err(invalid(format!(
                    "invalid mode: {mode}: nocopy applies to volumes, not bind mounts"
                )));
            }
            MountKind::Bind {
                source: clean_host_path(s, cwd),
                create: true,
            }
        }
        Some(name) => {
            check_volume_name(name)?;
            MountKind::Volume {
                name: Some(name.to_string()),
                nocopy,
            }
        }
    };
    if propagation.is_some() && !matches!(kind, MountKind::Bind { .. }) {
        return Err(invalid(format!(
            "invalid mode: {mode}: propagation applies to bind mounts only"
        )));
    }
    Ok(MountRequest::new(
        kind,
        target,
        read_only,
        propagation,
        mode.to_string(),
    ))
}

fn is_mode(s: &str) -> bool {
    !s.is_empty()
        && s.split(',')
            .all(|o| matches!(o, "ro" | "rw" | "nocopy" | "z" | "Z") || PROPAGATIONS.contains(&o))
}

/// A host path made absolute against `cwd`, with `.` and `..` folded lexically.
fn clean_host_path(s: &str, cwd: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in cwd.join(s).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

fn check_volume_name(name: &str) -> Result<(), SpecError> {
    if crate::storage::volumes::valid_name(name) {
        Ok(())
    } else {
        Err(invalid(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

/// A `--mount` boolean: bare key = true.
fn flag_value(key: &str, value: Option<&str>) -> Result<bool, SpecError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(invalid(format!("invalid value for {key}: {v}"))),
    }
}

/// `--mount type=..,source=..,target=..,...` (Docker's keys).
pub fn parse_mount_flag(spec: &str, cwd: &Path) -> Result<MountRequest, SpecError> {
    let mut typ = "volume".to_string();
    let mut source: Option<String> = None;
    let mut target: Option<String> = None;
    let mut read_only = false;
    let mut propagation: Option<String> = None;
    let mut nocopy = false;
    let mut tmpfs = Vec::new();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = || {
            value
                .ok_or_else(|| invalid(format!("invalid field '{field}' must be a key=value pair")))
        };
        match key.as_str() {
            "type" => typ = need()?.to_string(),
            "source" | "src" => source = Some(need()?.to_string()),
            "target" | "dst" | "destination" => target = Some(need()?.to_string()),
            "readonly" | "ro" => read_only = flag_value(&key, value)?,
            "bind-propagation" => {
                let p = need()?;
                if !PROPAGATIONS.contains(&p) {
                    return Err(invalid(format!("invalid bind-propagation: {p}")));
                }
                propagation = Some(p.to_string());
            }
            "volume-nocopy" => nocopy = flag_value(&key, value)?,
            "tmpfs-size" => {
                let v = need()?;
                let bytes = parse_size(v)
                    .ok()
                    .filter(|b| *b > 0)
                    .ok_or_else(|| invalid(format!("invalid tmpfs-size: {v}")))?;
                tmpfs.push(format!("size={bytes}"));
            }
            "tmpfs-mode" => {
                let v = need()?;
                let mode = u32::from_str_radix(v, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| invalid(format!("invalid tmpfs-mode: {v}")))?;
                tmpfs.push(format!("mode={mode:o}"));
            }
            // Docker Desktop's consistency hint: meaningless on Linux.
            "consistency" => {}
            _ => return Err(invalid(format!("unexpected key '{key}' in '{field}'"))),
        }
    }
    let target = check_target(
        target
            .as_deref()
            .ok_or_else(|| invalid("invalid mount config: target is required"))?,
    )?;
    let only = |what: &str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(invalid(format!(
                "invalid mount config for type \"{typ}\": {what}"
            )))
        }
    };
    let kind = match typ.as_str() {
        "bind" => {
            only("volume-nocopy is for volumes", !nocopy)?;
            only("tmpfs options are for tmpfs", tmpfs.is_empty())?;
            let source = source.filter(|s| !s.is_empty()).ok_or_else(|| {
                invalid("invalid mount config for type \"bind\": field Source must not be empty")
            })?;
            MountKind::Bind {
                source: clean_host_path(&source, cwd),
                create: false,
            }
        }
        "volume" => {
            only("bind-propagation is for binds", propagation.is_none())?;
            only("tmpfs options are for tmpfs", tmpfs.is_empty())?;
            let name = source.filter(|s| !s.is_empty());
            if let Some(n) = &name {
                check_volume_name(n)?;
            }
            MountKind::Volume { name, nocopy }
        }
        "tmpfs" => {
            only("source is not supported", source.is_none())?;
            only("bind-propagation is for binds", propagation.is_none())?;
            only("volume-nocopy is for volumes", !nocopy)?;
            MountKind::Tmpfs { options: tmpfs }
        }
        other => {
            return Err(invalid(format!(
                "invalid mount config: mount type unknown: {other:?}"
            )))
        }
    };
    Ok(MountRequest::new(
        kind,
        target,
        read_only,
        propagation,
        String::new(),
    ))
}

/// Flag-style options tmpfs takes; anything else must be one of the `key=value` ones.
const TMPFS_FLAGS: [&str; 14] = [
    "ro",
    "rw",
    "exec",
    "noexec",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "strictatime",
];
const TMPFS_KEYS: [&str; 7] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

/// `--tmpfs PATH[:OPTS]`.
pub fn parse_tmpfs_flag(spec: &str) -> Result<MountRequest, SpecError> {
    let (target, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let target = check_target(target)?;
    let mut options = Vec::new();
    let mut read_only = false;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let key = o.split_once('=').map(|(k, _)| k);
        let ok = match key {
            Some(k) => TMPFS_KEYS.contains(&k),
            None => TMPFS_FLAGS.contains(&o),
        };
        if !ok {
            return Err(invalid(format!(
                "invalid tmpfs option \"{o}\" for {target}"
            )));
        }
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            _ => options.push(o.to_string()),
        }
    }
    Ok(MountRequest {
        kind: MountKind::Tmpfs { options },
        target,
        read_only,
        propagation: None,
        mode: opts.to_string(),
    })
}

/// Refuse two mounts on one destination (Docker: "Duplicate mount point").
pub fn check_duplicates(reqs: &[MountRequest]) -> Result<(), SpecError> {
    for (i, r) in reqs.iter().enumerate() {
        if reqs[..i].iter().any(|o| o.target == r.target) {
            return Err(invalid(format!("Duplicate mount point: {}", r.target)));
        }
    }
    Ok(())
}

/// The OCI mount for a request whose host source is known (the bind source or the
/// volume's `_data`; ignored for tmpfs).
pub fn to_oci(req: &MountRequest, host_source: &Path) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(&req.target));
    let mut options: Vec<String> = Vec::new();
    match &req.kind {
        MountKind::Tmpfs { options: extra } => {
            m.set_typ(Some("tmpfs".into()));
            m.set_source(Some(PathBuf::from("tmpfs")));
            options.extend(TMPFS_DEFAULTS.iter().map(|s| s.to_string()));
            options.extend(extra.iter().cloned());
        }
        _ => {
            m.set_typ(Some("bind".into()));
            m.set_source(Some(host_source.to_path_buf()));
            options.push("rbind".into());
        }
    }
    if req.read_only {
        options.push("ro".into());
    }
    options.push(req.propagation.clone().unwrap_or_else(|| "rprivate".into()));
    m.set_options(Some(options));
    m
}

/// The default filesystems, then the binds and user mounts in order of depth, so `/a` is
/// mounted before `/a/b` (moby's sortMounts). Of two mounts on one destination the later
/// wins: a user mount replaces a default one (e.g. /dev/shm, /etc/hosts).
pub fn merge(defaults: Vec<Mount>, mut user: Vec<Mount>) -> Vec<Mount> {
    let mut later = Vec::with_capacity(user.len());
    while let Some(m) = user.pop() {
        if !later
            .iter()
            .any(|l: &Mount| l.destination() == m.destination())
        {
            later.push(m);
        }
    }
    later.reverse();
    later.sort_by_key(|m| m.destination().components().count());
    let mut out: Vec<Mount> = defaults
        .into_iter()
        .filter(|d| !later.iter().any(|u| u.destination() == d.destination()))
        .collect();
    out.extend(later);
    out
}

/// The rootfs propagation a set of mounts needs: a shared bind only propagates back to the
/// host if the container's mount tree is shared too (Docker sets `rshared` then); a slave
/// bind needs at least `rslave`, which is the runtime's default anyway.
pub fn rootfs_propagation(reqs: &[MountRequest]) -> Option<String> {
    reqs.iter()
        .any(|r| matches!(r.propagation.as_deref(), Some("shared" | "rshared")))
        .then(|| "rshared".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Result<MountRequest, SpecError> {
        parse_volume_flag(s, Path::new("/work/dir"))
    }

    fn m(s: &str) -> Result<MountRequest, SpecError> {
        parse_mount_flag(s, Path::new("/work/dir"))
    }

    #[test]
    fn volume_flag_forms() {
        let anon = v("/data").unwrap();
        assert_eq!(
            anon.kind,
            MountKind::Volume {
                name: None,
                nocopy: false
            }
        );
        assert_eq!(anon.propagation, None);
        let named = v("data:/data:ro,nocopy").unwrap();
        assert_eq!(
            named.kind,
            MountKind::Volume {
                name: Some("data".into()),
                nocopy: true
            }
        );
        assert!(named.read_only);
        assert_eq!(named.mode, "ro,nocopy");
        let bind = v("/etc/x:/etc/app:ro,rslave").unwrap();
        assert_eq!(
            bind.kind,
            MountKind::Bind {
                source: "/etc/x".into(),
                create: true
            }
        );
        assert_eq!(bind.propagation.as_deref(), Some("rslave"));
        let rel = v("./conf/../c:/c").unwrap();
        assert_eq!(
            rel.kind,
            MountKind::Bind {
                source: "/work/dir/c".into(),
                create: true
            }
        );
        assert_eq!(rel.propagation.as_deref(), Some("rprivate"));
        assert_eq!(v("/a/./b/").unwrap().target, "/a/b");
        assert!(v("/x:/y:z").is_ok());
    }

    #[test]
    fn volume_flag_errors() {
        for (spec, want) in [
            ("data:rel", "must be absolute"),
            ("rel", "must be absolute"),
            ("/a/../b", "must not contain '..'"),
            ("/x:/y:bogus", "invalid mode: bogus"),
            ("/x:/y:ro,rw", "invalid mode: ro,rw"),
            ("/data:ro", "invalid volume specification"),
            ("a:b:c:d", "invalid volume specification"),
            ("bad$name:/x", "invalid characters"),
            ("x:/y", "invalid characters"),
            ("data:/y:rshared", "bind mounts only"),
            ("/h:/y:nocopy", "not bind mounts"),
            ("/h:/", "can't be '/'"),
            ("/h:/proc", "reserved"),
            ("/h:/proc/sys", "reserved"),
            (":/x", "invalid volume specification"),
        ] {
            let e = v(spec).unwrap_err().to_string();
            assert!(e.contains(want), "{spec}: {e}");
        }
    }

    #[test]
    fn mount_flag_forms_and_errors() {
        let b = m("type=bind,src=/h,dst=/c,readonly,bind-propagation=rshared").unwrap();
        assert_eq!(
            b.kind,
            MountKind::Bind {
                source: "/h".into(),
                create: false
            }
        );
        assert!(b.read_only);
        assert_eq!(b.propagation.as_deref(), Some("rshared"));
        let vol = m("source=data,target=/d,volume-nocopy,ro=false").unwrap();
        assert_eq!(
            vol.kind,
            MountKind::Volume {
                name: Some("data".into()),
                nocopy: true
            }
        );
        assert!(!vol.read_only);
        let anon = m("type=volume,destination=/d").unwrap();
        assert_eq!(
            anon.kind,
            MountKind::Volume {
                name: None,
                nocopy: false
            }
        );
        let t = m("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        assert_eq!(
            t.kind,
            MountKind::Tmpfs {
                options: vec!["size=1048576".into(), "mode=1770".into()]
            }
        );
        for (spec, want) in [
            ("type=bind,dst=/c", "Source must not be empty"),
            ("type=bind,src=/h", "target is required"),
            ("type=bind,src=/h,dst=/c,foo=bar", "unexpected key 'foo'"),
            ("type=nfs,dst=/c", "mount type unknown"),
            ("type=tmpfs,src=x,dst=/c", "source is not supported"),
            ("type=tmpfs,dst=/c,tmpfs-mode=99", "invalid tmpfs-mode"),
            ("type=volume,src=/abs,dst=/c", "invalid characters"),
            (
                "type=bind,src=/h,dst=/c,bind-propagation=up",
                "invalid bind-propagation",
            ),
            ("type=bind,src=/h,dst=/c,readonly=maybe", "invalid value"),
        ] {
            let e = m(spec).unwrap_err().to_string();
            assert!(e.contains(want), "{spec}: {e}");
        }
    }

    #[test]
    fn tmpfs_flag_and_oci_mounts() {
        let t = parse_tmpfs_flag("/scratch:size=1m,mode=1777,exec").unwrap();
        let oci = to_oci(&t, Path::new(""));
        assert_eq!(oci.typ().as_deref(), Some("tmpfs"));
        assert_eq!(
            oci.options().clone().unwrap().join(","),
            "noexec,nosuid,nodev,size=1m,mode=1777,exec,rprivate"
        );
        let ro = parse_tmpfs_flag("/r:ro").unwrap();
        assert!(ro.read_only);
        assert!(parse_tmpfs_flag("/r:bogus").is_err());
        assert!(parse_tmpfs_flag("/r:foo=1").is_err());
        let b = v("/h:/c:ro").unwrap();
        let oci = to_oci(&b, Path::new("/h"));
        assert_eq!(oci.typ().as_deref(), Some("bind"));
        assert_eq!(
            oci.options().clone().unwrap().join(","),
            "rbind,ro,rprivate"
        );
    }

    #[test]
    fn duplicates_merge_order_and_propagation() {
        let reqs = vec![v("/a/b").unwrap(), v("/a").unwrap()];
        check_duplicates(&reqs).unwrap();
        let dup = vec![v("/a").unwrap(), parse_tmpfs_flag("/a").unwrap()];
        assert!(check_duplicates(&dup)
            .unwrap_err()
            .to_string()
            .contains("Duplicate mount point: /a"));
        let user: Vec<Mount> = reqs.iter().map(|r| to_oci(r, Path::new("/v"))).collect();
        let defaults = crate::spec::defaults::default_mounts(false);
        let shm = parse_tmpfs_flag("/dev/shm").unwrap();
        let mut with_shm = user.clone();
        with_shm.push(to_oci(&shm, Path::new("")));
        let merged = merge(defaults.clone(), with_shm);
        let dests: Vec<String> = merged
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect();
        assert_eq!(dests.iter().filter(|d| *d == "/dev/shm").count(), 1);
        let a = dests.iter().position(|d| d == "/a").unwrap();
        let ab = dests.iter().position(|d| d == "/a/b").unwrap();
        assert!(a < ab);
        assert_eq!(rootfs_propagation(&reqs), None);
        assert_eq!(
            rootfs_propagation(&[v("/h:/c:rshared").unwrap()]).as_deref(),
            Some("rshared")
        );
    }
}
