//! `USER[:GROUP]` resolution against the image's /etc/passwd and /etc/group text.
//!
//! Follows runc/moby `user.GetExecUser` as Docker calls it (no defaults, so uid 0 / gid 0):
//! - the user part is numeric → it is a uid (looked up in passwd, but need not be there);
//!   otherwise it is a name that must be in passwd;
//! - an empty user part means uid 0 (looked up in passwd like `0`);
//! - the gid is the passwd entry's gid, or 0 when the user is not in passwd;
//! - an explicit group (name or gid) replaces the gid; a name must be in /etc/group;
//! - supplementary groups (from /etc/group member lists) are only collected in the implicit
//!   form (no `:group`), as runc does;
//! - the primary gid is always the first additional gid (Docker does this since the
//!   CVE-2023-25173 fix, so the primary group is in the process's group list).

use super::{ResolvedUser, SpecError};

/// The largest /etc/passwd or /etc/group nsbox reads (4 MiB; beyond is an error).
pub const USER_DB_LIMIT: u64 = 4 << 20;

/// Largest uid/gid runc accepts (its `maxID`).
const MAX_ID: i64 = i32::MAX as i64;

/// One /etc/passwd entry (only the fields we need).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

/// One /etc/group entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Lines of a passwd/group style file, trimmed, without blanks and `#` comments.
fn data_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// `name:password:uid:gid:gecos:home:shell`; malformed lines are skipped.
fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    data_lines(text)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(PasswdEntry {
                name: (*f.first()?).to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).map(|s| s.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

/// `name:password:gid:member,member`; malformed lines are skipped.
fn parse_group(text: &str) -> Vec<GroupEntry> {
    data_lines(text)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(GroupEntry {
                name: (*f.first()?).to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// A numeric user or group argument, range-checked like runc.
fn numeric_id(arg: &str) -> Result<Option<u32>, SpecError> {
    match arg.parse::<i64>() {
        Ok(n) if (0..=MAX_ID).contains(&n) => Ok(u32::try_from(n).ok()),
        Ok(_) => Err(SpecError::IdRange),
        Err(_) => Ok(None),
    }
}

/// Could `name` be a group in a group file (no separators, blanks or controls)?
pub fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != ':' && c != ',')
}

/// `--group-add` groups given by name, against the image's group file.
pub fn group_ids(names: &[String], group: &str) -> Result<Vec<u32>, SpecError> {
    let groups = parse_group(group);
    names
        .iter()
        .map(|n| match numeric_id(n)? {
            Some(gid) => Ok(gid),
            None => groups
                .iter()
                .find(|g| g.name == *n)
                .map(|g| g.gid)
                .ok_or_else(|| SpecError::UnknownGroup(n.clone())),
        })
        .collect()
}

/// Resolve `USER[:GROUP]` (names or numbers) against passwd and group file contents.
pub fn resolve_user(user: &str, passwd: &str, group: &str) -> Result<ResolvedUser, SpecError> {
    let mut parts = user.split(':');
    let user_arg = parts.next().unwrap_or("");
    let group_arg = parts.next().unwrap_or("");

    let users = parse_passwd(passwd);
    let uid_arg = numeric_id(user_arg)?;

    let matched = users.iter().find(|u| match (user_arg.is_empty(), uid_arg) {
        (true, _) => u.uid == 0,
        (false, Some(uid)) => u.uid == uid,
        (false, None) => u.name == user_arg,
    });

    let mut resolved = ResolvedUser::default();
    match (matched, uid_arg) {
        (Some(u), _) => {
            resolved.uid = u.uid;
            resolved.gid = u.gid;
            resolved.home = Some(u.home.clone());
        }
        (None, Some(uid)) => resolved.uid = uid,
        (None, None) if user_arg.is_empty() => {}
        (None, None) => return Err(SpecError::UnknownUser(user_arg.to_string())),
    }

    let groups = parse_group(group);
    let mut supplementary = Vec::new();
    if !group_arg.is_empty() {
        let gid_arg = numeric_id(group_arg)?;
        let found = groups.iter().find(|g| match gid_arg {
            Some(gid) => g.gid == gid,
            None => g.name == group_arg,
        });
        resolved.gid = match (found, gid_arg) {
            (Some(g), _) => g.gid,
            (None, Some(gid)) => gid,
            (None, None) => return Err(SpecError::UnknownGroup(group_arg.to_string())),
        };
    } else if let Some(u) = matched {
        supplementary = groups
            .iter()
            .filter(|g| g.members.contains(&u.name))
            .map(|g| g.gid)
            .collect();
    }

    resolved.additional_gids = vec![resolved.gid];
    for gid in supplementary {
        if !resolved.additional_gids.contains(&gid) {
            resolved.additional_gids.push(gid);
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
alice:x:1000:1000:Alice:/home/alice:/bin/sh

bob:x:1001:100:Bob:/home/bob:/bin/sh
broken:x:notanumber:0::/:/bin/sh
";

    const GROUP: &str = "\
root:x:0:root
wheel:x:10:root,alice
users:x:100:
alice:x:1000:
audio:x:29:alice, bob
";

    fn resolve(spec: &str) -> Result<ResolvedUser, SpecError> {
        resolve_user(spec, PASSWD, GROUP)
    }

    #[test]
    fn empty_user_is_root_with_roots_groups() {
        let u = resolve("").unwrap();
        assert_eq!((u.uid, u.gid), (0, 0));
        assert_eq!(u.home.as_deref(), Some("/root"));
        assert_eq!(u.additional_gids, vec![0, 10]);
    }

    #[test]
    fn empty_user_without_passwd_is_root() {
        let u = resolve_user("", "", "").unwrap();
        assert_eq!((u.uid, u.gid, u.home), (0, 0, None));
        assert_eq!(u.additional_gids, vec![0]);
    }

    #[test]
    fn name_takes_uid_gid_home_and_supplementary_groups() {
        let u = resolve("alice").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.home.as_deref(), Some("/home/alice"));
        assert_eq!(u.additional_gids, vec![1000, 10, 29]);
    }

    #[test]
    fn known_uid_takes_passwd_gid() {
        let u = resolve("1001").unwrap();
        assert_eq!((u.uid, u.gid), (1001, 100));
        assert_eq!(u.home.as_deref(), Some("/home/bob"));
        assert_eq!(u.additional_gids, vec![100, 29]);
    }

    #[test]
    fn unknown_uid_is_fine_with_gid_zero() {
        let u = resolve("4242").unwrap();
        assert_eq!((u.uid, u.gid, u.home), (4242, 0, None));
        assert_eq!(u.additional_gids, vec![0]);
    }

    #[test]
    fn unknown_name_is_docker_error() {
        let err = resolve("mallory").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find user mallory: no matching entries in passwd file"
        );
    }

    #[test]
    fn name_colon_group_name() {
        let u = resolve("alice:users").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 100));
        // Explicit group: runc collects no supplementary groups.
        assert_eq!(u.additional_gids, vec![100]);
    }

    #[test]
    fn uid_colon_gid_both_unknown() {
        let u = resolve("5000:6000").unwrap();
        assert_eq!((u.uid, u.gid), (5000, 6000));
        assert_eq!(u.additional_gids, vec![6000]);
    }

    #[test]
    fn name_colon_gid_and_uid_colon_group() {
        let u = resolve("bob:29").unwrap();
        assert_eq!((u.uid, u.gid), (1001, 29));
        let u = resolve("1000:wheel").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 10));
        assert_eq!(u.home.as_deref(), Some("/home/alice"));
    }

    #[test]
    fn unknown_group_name_is_error() {
        let err = resolve("alice:nosuch").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find group nosuch: no matching entries in group file"
        );
    }

    #[test]
    fn out_of_range_ids_are_errors() {
        assert!(matches!(resolve("-1"), Err(SpecError::IdRange)));
        assert!(matches!(resolve("0:4294967295"), Err(SpecError::IdRange)));
    }

    #[test]
    fn malformed_passwd_lines_are_skipped() {
        assert!(matches!(resolve("broken"), Err(SpecError::UnknownUser(_))));
    }

    #[test]
    fn group_add_names_resolve_in_the_image() {
        let group = "root:x:0:\nstaff:x:50:\n";
        assert_eq!(
            group_ids(&["staff".into(), "7".into()], group).unwrap(),
            [50, 7]
        );
        assert!(group_ids(&["nogroup-here".into()], group).is_err());
    }
}
