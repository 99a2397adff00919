//! The spec fields nsbox's runtime cannot enforce. Each is an error naming the field, checked
//! before anything is created: a confinement silently dropped is worse than a refusal.
//! (linux.sysctl, linux.seccomp and user namespaces with their mappings are enforced
//! elsewhere.)

use oci_spec::runtime::Spec;

#[derive(Debug, thiserror::Error)]
#[error("{0} in the OCI spec is not supported by nsbox")]
pub struct Unsupported(pub String);

/// Err naming the first field of `spec` that the runtime would otherwise ignore.
/// `runs_hooks`: the caller runs the runtime-namespace hooks (`nsbox-runtime`); the
/// in-container ones (createContainer, startContainer) are refused either way.
pub fn check(spec: &Spec, runs_hooks: bool) -> Result<(), Unsupported> {
    let mut bad: Vec<&str> = Vec::new();
    if let Some(h) = spec.hooks() {
        if !runs_hooks {
            bad.push("hooks");
        } else {
            if h.create_container().as_ref().is_some_and(|v| !v.is_empty()) {
                bad.push("hooks.createContainer");
            }
            if h.start_container().as_ref().is_some_and(|v| !v.is_empty()) {
                bad.push("hooks.startContainer");
            }
        }
    }
    if spec.domainname().as_deref().is_some_and(|d| !d.is_empty()) {
        bad.push("domainname");
    }
    if let Some(p) = spec.process() {
        if p.apparmor_profile()
            .as_deref()
            .is_some_and(|a| !a.is_empty())
        {
            bad.push("process.apparmorProfile");
        }
        if p.selinux_label().as_deref().is_some_and(|l| !l.is_empty()) {
            bad.push("process.selinuxLabel");
        }
        if p.scheduler().is_some() {
            bad.push("process.scheduler");
        }
        if p.io_priority().is_some() {
            bad.push("process.ioPriority");
        }
        if p.exec_cpu_affinity().is_some() {
            bad.push("process.execCPUAffinity");
        }
        if p.oom_score_adj().is_some() {
            bad.push("process.oomScoreAdj");
        }
    }
    if let Some(l) = spec.linux() {
        if l.mount_label().as_deref().is_some_and(|m| !m.is_empty()) {
            bad.push("linux.mountLabel");
        }
        if l.intel_rdt().is_some() {
            bad.push("linux.intelRdt");
        }
        if l.personality().is_some() {
            bad.push("linux.personality");
        }
        if l.time_offsets().is_some() {
            bad.push("linux.timeOffsets");
        }
        if l.memory_policy().is_some() {
            bad.push("linux.memoryPolicy");
        }
        if l.net_devices().is_some() {
            bad.push("linux.netDevices");
        }
    }
    match bad.first() {
        Some(first) => Err(Unsupported(first.to_string())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn plain_spec_passes_and_hooks_are_named() {
        let ok = spec(
            serde_json::json!({"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}]}}),
        );
        assert!(check(&ok, false).is_ok());
        let hooks = spec(
            serde_json::json!({"ociVersion": "1.0.2", "hooks": {"prestart": [{"path": "/bin/true"}]}}),
        );
        assert_eq!(
            check(&hooks, false).unwrap_err().to_string(),
            "hooks in the OCI spec is not supported by nsbox"
        );
        // A new user namespace with its mappings is supported (runtime::userns).
        let userns = spec(
            serde_json::json!({"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "user"}],
                "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}}),
        );
        assert!(check(&userns, false).is_ok());
        let aa = spec(
            serde_json::json!({"ociVersion": "1.0.2", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "apparmorProfile": "x"}}),
        );
        assert!(check(&aa, false).unwrap_err().0.contains("apparmorProfile"));
    }
}
