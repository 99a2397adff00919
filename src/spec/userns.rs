//! User namespaces as podman offers them: `--userns=host|auto`, `--uidmap`/`--gidmap`
//! (`CONTAINER:HOST:SIZE`, repeatable), the subordinate ranges of /etc/subuid and
//! /etc/subgid, and the pure part of allocating a free range. Pure: the caller reads files.

use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespaceType, Spec};

/// The size of an automatically allocated range (podman's default for `--userns=auto`).
pub const AUTO_SIZE: u32 = 65536;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum UsernsError {
    #[error("invalid --userns {0:?}: expected host or auto")]
    Mode(String),
    #[error("invalid id mapping {0:?}: expected CONTAINER:HOST:SIZE")]
    Syntax(String),
    #[error("invalid id mapping {0:?}: size must be at least 1")]
    ZeroSize(String),
    #[error("invalid id mapping {0:?}: the range goes past 4294967295")]
    Overflow(String),
    #[error("{0} mappings {1} and {2} overlap")]
    Overlap(&'static str, String, String),
    #[error("--userns=host conflicts with --uidmap/--gidmap")]
    HostWithMaps,
    #[error("--userns=auto conflicts with --uidmap/--gidmap")]
    AutoWithMaps,
    #[error("--uidmap and --gidmap must be given together")]
    Incomplete,
    #[error(
        "--userns=auto: no subordinate ids for user {user} in {path}; add a line such as \
         \"{user}:100000:{size}\" (or more) to it"
    )]
    NoSubids {
        user: String,
        path: String,
        size: u32,
    },
    #[error("--userns=auto: no free range of {size} ids left in {path}")]
    Exhausted { size: u32, path: String },
}

/// Host id ranges as (start, size).
pub type Ranges = Vec<(u32, u32)>;

/// One line of a mapping: `container` ids from `host` on, `size` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdMap {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

impl std::fmt::Display for IdMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.container, self.host, self.size)
    }
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum UsernsMode {
    /// No user namespace (Docker's default and today's behaviour).
    #[default]
    Host,
    /// Container root on a fresh range of `AUTO_SIZE` subordinate ids.
    Auto,
    /// Explicit mappings.
    Maps { uid: Vec<IdMap>, gid: Vec<IdMap> },
}

/// `CONTAINER:HOST:SIZE` (podman's syntax).
pub fn parse_idmap(s: &str) -> Result<IdMap, UsernsError> {
    let syntax = || UsernsError::Syntax(s.to_string());
    let parts: Vec<&str> = s.split(':').collect();
    let [c, h, n] = parts.as_slice() else {
        return Err(syntax());
    };
    let num = |v: &str| v.trim().parse::<u32>().map_err(|_| syntax());
    let m = IdMap {
        container: num(c)?,
        host: num(h)?,
        size: num(n)?,
    };
    if m.size == 0 {
        return Err(UsernsError::ZeroSize(s.to_string()));
    }
    let last = |start: u32| u64::from(start) + u64::from(m.size) - 1;
    if last(m.container) > u64::from(u32::MAX) || last(m.host) > u64::from(u32::MAX) {
        return Err(UsernsError::Overflow(s.to_string()));
    }
    Ok(m)
}

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    let end = |(s, n): (u32, u32)| u64::from(s) + u64::from(n);
    u64::from(a.0) < end(b) && u64::from(b.0) < end(a)
}

/// A set of mappings the kernel accepts: no two overlap, on either side.
pub fn validate(kind: &'static str, maps: &[IdMap]) -> Result<(), UsernsError> {
    for (i, a) in maps.iter().enumerate() {
        for b in &maps[i + 1..] {
            if overlaps((a.container, a.size), (b.container, b.size))
                || overlaps((a.host, a.size), (b.host, b.size))
            {
                return Err(UsernsError::Overlap(kind, a.to_string(), b.to_string()));
            }
        }
    }
    Ok(())
}

/// The mode from the flags: `--userns` (empty: not given), `--uidmap`, `--gidmap`.
/// A lone `--uidmap` or `--gidmap` is refused (podman copies one to the other; being
/// explicit costs nothing and avoids a surprise).
pub fn parse_mode(
    userns: Option<&str>,
    uidmap: &[String],
    gidmap: &[String],
) -> Result<UsernsMode, UsernsError> {
    let uid = uidmap
        .iter()
        .map(|s| parse_idmap(s))
        .collect::<Result<Vec<_>, _>>()?;
    let gid = gidmap
        .iter()
        .map(|s| parse_idmap(s))
        .collect::<Result<Vec<_>, _>>()?;
    validate("uid", &uid)?;
    validate("gid", &gid)?;
    let maps = !uid.is_empty() || !gid.is_empty();
    match userns {
        Some("host") if maps => Err(UsernsError::HostWithMaps),
        Some("host") => Ok(UsernsMode::Host),
        Some("auto") if maps => Err(UsernsError::AutoWithMaps),
        Some("auto") => Ok(UsernsMode::Auto),
        Some("") | None if maps => {
            if uid.is_empty() || gid.is_empty() {
                return Err(UsernsError::Incomplete);
            }
            Ok(UsernsMode::Maps { uid, gid })
        }
        Some("") | None => Ok(UsernsMode::Host),
        Some(other) => Err(UsernsError::Mode(other.to_string())),
    }
}

/// The ranges `/etc/subuid`-style text gives `user` (`name:start:count` lines; a numeric
/// uid in the first field counts as the same user). Bad lines are skipped, like shadow's.
pub fn subid_ranges(text: &str, user: &str, uid: u32) -> Vec<(u32, u32)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let mut it = l.split(':');
            let (name, start, count) = (it.next()?, it.next()?, it.next()?);
            if name != user && name.parse::<u32>().ok() != Some(uid) {
                return None;
            }
            let start = start.trim().parse::<u32>().ok()?;
            let count = count.trim().parse::<u32>().ok().filter(|n| *n > 0)?;
            Some((start, count))
        })
        .collect()
}

/// The lowest start of `size` ids inside one of `ranges` that overlaps none of `taken`.
pub fn allocate(ranges: &[(u32, u32)], taken: &[(u32, u32)], size: u32) -> Option<u32> {
    let mut taken: Vec<(u32, u32)> = taken.to_vec();
    taken.sort();
    let mut ranges = ranges.to_vec();
    ranges.sort();
    for (start, count) in ranges {
        let end = u64::from(start) + u64::from(count);
        let mut at = u64::from(start);
        while at + u64::from(size) <= end {
            let cand = (at as u32, size);
            match taken.iter().find(|t| overlaps(cand, **t)) {
                None => return Some(cand.0),
                Some(t) => at = u64::from(t.0) + u64::from(t.1),
            }
        }
    }
    None
}

/// The mappings as the OCI spec writes them.
pub fn to_oci(maps: &[IdMap]) -> Result<Vec<LinuxIdMapping>, oci_spec::OciSpecError> {
    maps.iter()
        .map(|m| {
            LinuxIdMappingBuilder::default()
                .container_id(m.container)
                .host_id(m.host)
                .size(m.size)
                .build()
        })
        .collect()
}

/// Add a new user namespace with these mappings to the spec (the runtime creates it
/// first; every other new namespace is then owned by it).
pub fn apply(spec: &mut Spec, uid: &[IdMap], gid: &[IdMap]) -> Result<(), oci_spec::OciSpecError> {
    let uid = to_oci(uid)?;
    let gid = to_oci(gid)?;
    let tty_mapped = gid_maps_have(&gid, 5);
    if let Some(linux) = spec.linux_mut() {
        let mut namespaces = linux.namespaces().clone().unwrap_or_default();
        if !namespaces
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::User)
        {
            namespaces.insert(
                0,
                oci_spec::runtime::LinuxNamespaceBuilder::default()
                    .typ(LinuxNamespaceType::User)
                    .build()?,
            );
        }
        linux.set_namespaces(Some(namespaces));
        linux.set_uid_mappings(Some(uid));
        linux.set_gid_mappings(Some(gid));
    }
    sysfs_for_host_network(spec);
    devpts_without_unmapped_gid(spec, tty_mapped);
    Ok(())
}

fn gid_maps_have(maps: &[LinuxIdMapping], id: u32) -> bool {
    maps.iter().any(|m| {
        id >= m.container_id() && u64::from(id) < u64::from(m.container_id()) + u64::from(m.size())
    })
}

/// devpts refuses `gid=5` (tty) when gid 5 is not mapped: leave it out then (podman).
fn devpts_without_unmapped_gid(spec: &mut Spec, tty_mapped: bool) {
    if tty_mapped {
        return;
    }
    let Some(mounts) = spec.mounts().clone() else {
        return;
    };
    let mounts = mounts
        .into_iter()
        .map(|mut m| {
            if m.typ().as_deref() == Some("devpts") {
                let opts: Vec<String> = m
                    .options()
                    .iter()
                    .flatten()
                    .filter(|o| !o.starts_with("gid="))
                    .cloned()
                    .collect();
                m.set_options(Some(opts));
            }
            m
        })
        .collect();
    spec.set_mounts(Some(mounts));
}

/// sysfs can be mounted in a user namespace only with a network namespace of its own:
/// with the host's network the container gets a read-only bind of the host's /sys
/// instead (runc and podman do the same).
fn sysfs_for_host_network(spec: &mut Spec) {
    let own_netns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none())
        });
    if own_netns {
        return;
    }
    let Some(mounts) = spec.mounts().clone() else {
        return;
    };
    let mounts = mounts
        .into_iter()
        .map(|mut m| {
            if m.typ().as_deref() == Some("sysfs") {
                m.set_typ(Some("bind".to_string()));
                m.set_source(Some("/sys".into()));
                m.set_options(Some(
                    ["rbind", "nosuid", "noexec", "nodev", "ro"]
                        .map(String::from)
                        .to_vec(),
                ));
            }
            m
        })
        .collect();
    spec.set_mounts(Some(mounts));
}

/// The host ranges (start, size) a spec's uid and gid mappings hold.
pub fn held_ranges(spec: &Spec) -> (Ranges, Ranges) {
    let get = |m: Option<&Vec<LinuxIdMapping>>| {
        m.into_iter()
            .flatten()
            .map(|m| (m.host_id(), m.size()))
            .collect::<Vec<_>>()
    };
    let linux = spec.linux().as_ref();
    (
        get(linux.and_then(|l| l.uid_mappings().as_ref())),
        get(linux.and_then(|l| l.gid_mappings().as_ref())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idmap_parses_podman_syntax() {
        assert_eq!(
            parse_idmap("0:100000:65536").unwrap(),
            IdMap {
                container: 0,
                host: 100000,
                size: 65536
            }
        );
        assert!(matches!(parse_idmap("0:1"), Err(UsernsError::Syntax(_))));
        assert!(matches!(parse_idmap("a:1:2"), Err(UsernsError::Syntax(_))));
        assert!(matches!(
            parse_idmap("0:1:0"),
            Err(UsernsError::ZeroSize(_))
        ));
        assert!(matches!(
            parse_idmap("0:4294967295:2"),
            Err(UsernsError::Overflow(_))
        ));
    }

    #[test]
    fn overlapping_maps_are_refused() {
        let m = |s: &str| parse_idmap(s).unwrap();
        assert!(validate("uid", &[m("0:100000:10"), m("10:100010:10")]).is_ok());
        assert!(validate("uid", &[m("0:100000:10"), m("5:200000:10")]).is_err());
        assert!(validate("uid", &[m("0:100000:10"), m("20:100009:10")]).is_err());
    }

    #[test]
    fn mode_from_flags() {
        assert_eq!(parse_mode(None, &[], &[]).unwrap(), UsernsMode::Host);
        assert_eq!(
            parse_mode(Some("host"), &[], &[]).unwrap(),
            UsernsMode::Host
        );
        assert_eq!(
            parse_mode(Some("auto"), &[], &[]).unwrap(),
            UsernsMode::Auto
        );
        assert!(parse_mode(Some("keep-id"), &[], &[]).is_err());
        let u = vec!["0:100000:65536".to_string()];
        assert!(matches!(
            parse_mode(None, &u, &u).unwrap(),
            UsernsMode::Maps { .. }
        ));
        assert_eq!(
            parse_mode(None, &u, &[]).unwrap_err(),
            UsernsError::Incomplete
        );
        assert_eq!(
            parse_mode(Some("host"), &u, &u).unwrap_err(),
            UsernsError::HostWithMaps
        );
        assert_eq!(
            parse_mode(Some("auto"), &u, &u).unwrap_err(),
            UsernsError::AutoWithMaps
        );
    }

    #[test]
    fn subid_file_lines_for_the_user() {
        let text = "# c\nalice:100000:65536\nroot:200000:131072\n0:500000:65536\nroot:x:1\n";
        assert_eq!(
            subid_ranges(text, "root", 0),
            vec![(200000, 131072), (500000, 65536)]
        );
        assert!(subid_ranges(text, "bob", 1000).is_empty());
    }

    #[test]
    fn allocation_skips_taken_ranges_and_fails_when_full() {
        let ranges = [(200000, 3 * 65536)];
        assert_eq!(allocate(&ranges, &[], 65536), Some(200000));
        assert_eq!(allocate(&ranges, &[(200000, 65536)], 65536), Some(265536));
        // A taken range in the middle: the next fit comes after it.
        assert_eq!(allocate(&ranges, &[(200000, 10)], 65536), Some(200010));
        let full = [(200000, 65536), (265536, 65536), (331072, 65536)];
        assert_eq!(allocate(&ranges, &full, 65536), None);
    }

    #[test]
    fn apply_adds_the_user_namespace_once() {
        let mut spec = Spec::default();
        let m = [parse_idmap("0:100000:65536").unwrap()];
        apply(&mut spec, &m, &m).unwrap();
        apply(&mut spec, &m, &m).unwrap();
        let ns = spec.linux().as_ref().unwrap().namespaces().clone().unwrap();
        assert_eq!(
            ns.iter()
                .filter(|n| n.typ() == LinuxNamespaceType::User)
                .count(),
            1
        );
        assert_eq!(held_ranges(&spec).0, vec![(100000, 65536)]);
    }

    #[test]
    fn sysfs_becomes_a_bind_without_a_network_namespace() {
        let mut spec = Spec::default(); // oci-spec's default: sysfs, and a network namespace
        let m = [parse_idmap("0:100000:65536").unwrap()];
        let sys_type = |s: &Spec| {
            s.mounts()
                .iter()
                .flatten()
                .find(|m| m.destination() == std::path::Path::new("/sys"))
                .and_then(|m| m.typ().clone())
        };
        apply(&mut spec, &m, &m).unwrap();
        assert_eq!(sys_type(&spec).as_deref(), Some("sysfs"));
        let linux = spec.linux_mut().as_mut().unwrap();
        let ns: Vec<_> = linux
            .namespaces()
            .clone()
            .unwrap()
            .into_iter()
            .filter(|n| n.typ() != LinuxNamespaceType::Network)
            .collect();
        linux.set_namespaces(Some(ns));
        apply(&mut spec, &m, &m).unwrap();
        assert_eq!(sys_type(&spec).as_deref(), Some("bind"));
    }
}
