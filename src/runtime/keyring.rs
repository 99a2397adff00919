//! The kernel keyring is not namespaced: a process inherits its parent's session keyring,
//! so a container started from a root shell could read and add keys in root's keyrings.
//! Each container (and each process `exec` starts in it) joins a session keyring of its
//! own, `_ses.<id>`, as runc does. OCI callers that manage keyrings themselves turn it off
//! with the annotation below (runc's `--no-new-keyring`).
//!
//! This hides the caller's session keyring; the per-uid user keyring (`@u`) stays shared
//! without a user namespace, as with runc: seccomp refusing `keyctl` is the other half.

use super::sys;
use crate::explain;
use oci_spec::runtime::Spec;
use std::ffi::CString;

/// Set to "true" to keep the caller's session keyring (runc's `--no-new-keyring`).
pub const NO_NEW_KEYRING_ANNOTATION: &str = "org.nsbox.no-new-keyring";

/// KEY_USR_SEARCH: lets later processes of the same uid (`exec`) find and join it by name.
const KEY_USR_SEARCH: u32 = 0x0008_0000;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("join session keyring {0}: {1}")]
    Join(String, std::io::Error),
    #[error("make session keyring {0} searchable: {1}")]
    Perm(String, std::io::Error),
}

/// The session keyring the container `id` gets, or None if `spec` asks to keep the caller's.
pub fn session_name(spec: &Spec, id: &str) -> Option<String> {
    let keep = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(NO_NEW_KEYRING_ANNOTATION))
        .is_some_and(|v| v == "true");
    (!keep).then(|| format!("_ses.{id}"))
}

/// Join the session keyring `name` (None: keep ours). A kernel without keyrings is fine.
pub fn join(name: Option<&str>) -> Result<(), KeyringError> {
    let Some(name) = name else {
        explain::step("keyring", || {
            "kept the caller's session keyring (no-new-keyring)".to_string()
        });
        return Ok(());
    };
    let err = |e| KeyringError::Join(name.to_string(), e);
    let cname = CString::new(name).map_err(|e| err(std::io::Error::other(e)))?;
    let key = match sys::keyctl_join_session_keyring(&cname) {
        Ok(k) => k,
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    let perm_err = |e| KeyringError::Perm(name.to_string(), e);
    let desc = sys::keyctl_describe(key).map_err(perm_err)?;
    let perm = parse_perm(&desc)
        .ok_or_else(|| perm_err(std::io::Error::other(format!("bad description {desc:?}"))))?;
    if perm & KEY_USR_SEARCH == 0 {
        sys::keyctl_setperm(key, perm | KEY_USR_SEARCH).map_err(perm_err)?;
    }
    explain::step("keyring", || {
        format!("joined its own session keyring {name} (by hand: keyctl session NAME)")
    });
    Ok(())
}

/// The permission mask in a KEYCTL_DESCRIBE answer ("type;uid;gid;perm;description").
fn parse_perm(desc: &str) -> Option<u32> {
    let perm = desc.split(';').nth(3)?;
    u32::from_str_radix(perm, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perm_is_the_fourth_field_in_hex() {
        assert_eq!(
            parse_perm("keyring;0;0;3f030000;_ses.abc"),
            Some(0x3f03_0000)
        );
        assert_eq!(parse_perm("keyring;0;0"), None);
    }

    #[test]
    fn annotation_turns_it_off() {
        let mut spec = Spec::default();
        assert_eq!(session_name(&spec, "abc").as_deref(), Some("_ses.abc"));
        let mut a = std::collections::HashMap::new();
        a.insert(NO_NEW_KEYRING_ANNOTATION.to_string(), "true".to_string());
        spec.set_annotations(Some(a));
        assert_eq!(session_name(&spec, "abc"), None);
    }
}
