//! Seccomp profiles in Docker's format (the OCI fields plus `archMap`, `name`, and per-rule
//! `includes`/`excludes` on capabilities, architectures and kernel version), and how Docker
//! turns one into the OCI `linux.seccomp` of one container: keep the rules whose conditions
//! hold for the container's final capability set and the host's architecture. Pure.
//! The default profile itself is in [`super::seccomp_default`].

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SeccompProfileError {
    #[error("decoding seccomp profile failed: {0}")]
    Json(#[from] serde_json::Error),
    #[error("seccomp profile: {0}")]
    Invalid(String),
}

/// The architectures Docker's default profile is written for (and Go's names for them,
/// which `includes.arches` / `excludes.arches` use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostArch {
    X86_64,
    Aarch64,
    Other,
}

impl HostArch {
    pub fn current() -> Self {
        if cfg!(target_arch = "x86_64") {
            HostArch::X86_64
        } else if cfg!(target_arch = "aarch64") {
            HostArch::Aarch64
        } else {
            HostArch::Other
        }
    }

    /// Go's GOARCH, what Docker matches `arches` conditions against.
    pub fn go_name(self) -> &'static str {
        match self {
            HostArch::X86_64 => "amd64",
            HostArch::Aarch64 => "arm64",
            HostArch::Other => "",
        }
    }

    /// libseccomp's name, what `archMap` entries are keyed by.
    pub fn scmp_name(self) -> &'static str {
        match self {
            HostArch::X86_64 => "SCMP_ARCH_X86_64",
            HostArch::Aarch64 => "SCMP_ARCH_AARCH64",
            HostArch::Other => "SCMP_ARCH_NATIVE",
        }
    }
}

/// Conditions of one rule (`includes` all must hold, `excludes` none may).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Filter {
    pub caps: Vec<String>,
    pub arches: Vec<String>,
    pub min_kernel: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub names: Vec<String>,
    pub action: LinuxSeccompAction,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<LinuxSeccompArg>>,
    #[serde(default)]
    pub includes: Filter,
    #[serde(default)]
    pub excludes: Filter,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default, rename = "subArchitectures")]
    pub sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: LinuxSeccompAction,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    pub flags: Option<Vec<LinuxSeccompFilterFlag>>,
    #[serde(default)]
    pub listener_path: Option<PathBuf>,
    #[serde(default)]
    pub listener_metadata: Option<String>,
    #[serde(default)]
    pub syscalls: Option<Vec<Rule>>,
}

impl Profile {
    /// A profile file as Docker reads it (Docker's format; a plain OCI `linux.seccomp`
    /// object is a subset of it).
    pub fn from_json(json: &str) -> Result<Self, SeccompProfileError> {
        Ok(serde_json::from_str(json)?)
    }

    /// The OCI `linux.seccomp` for a container with these capabilities (`CAP_…` names, the
    /// bounding set) on `arch` running `kernel` (major, minor), as moby's
    /// `profiles/seccomp.setupSeccomp` does it.
    pub fn to_oci(
        &self,
        caps: &[String],
        arch: HostArch,
        kernel: Option<(u32, u32)>,
    ) -> Result<LinuxSeccomp, SeccompProfileError> {
        if self.architectures.as_ref().is_some_and(|a| !a.is_empty())
            && self.arch_map.as_ref().is_some_and(|m| !m.is_empty())
        {
            return Err(SeccompProfileError::Invalid(
                "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'".into(),
            ));
        }
        let mut arch_names: Vec<String> = self.architectures.clone().unwrap_or_default();
        for m in self.arch_map.iter().flatten() {
            if m.architecture == arch.scmp_name() {
                arch_names = std::iter::once(m.architecture.clone())
                    .chain(m.sub_architectures.iter().flatten().cloned())
                    .collect();
            }
        }
        let architectures = arch_names
            .iter()
            .map(|a| parse_arch(a))
            .collect::<Result<Vec<_>, _>>()?;

        let mut syscalls = Vec::new();
        for rule in self.syscalls.iter().flatten() {
            if rule.name.is_some() && !rule.names.is_empty() {
                return Err(SeccompProfileError::Invalid(
                    "use either 'name' or 'names'".into(),
                ));
            }
            if !rule.applies(caps, arch, kernel)? {
                continue;
            }
            let names = match &rule.name {
                Some(n) => vec![n.clone()],
                None => rule.names.clone(),
            };
            let mut s = LinuxSyscall::default();
            s.set_names(names);
            s.set_action(rule.action);
            s.set_errno_ret(rule.errno_ret);
            s.set_args(rule.args.clone());
            syscalls.push(s);
        }
        let mut out = LinuxSeccomp::default();
        out.set_default_action(self.default_action);
        out.set_default_errno_ret(self.default_errno_ret);
        out.set_architectures((!architectures.is_empty()).then_some(architectures));
        out.set_flags(self.flags.clone());
        out.set_listener_path(self.listener_path.clone());
        out.set_listener_metadata(self.listener_metadata.clone());
        out.set_syscalls(Some(syscalls));
        Ok(out)
    }
}

impl Rule {
    fn applies(
        &self,
        caps: &[String],
        arch: HostArch,
        kernel: Option<(u32, u32)>,
    ) -> Result<bool, SeccompProfileError> {
        let has = |c: &String| caps.iter().any(|k| k == c);
        let go = arch.go_name();
        if self.excludes.arches.iter().any(|a| a == go) {
            return Ok(false);
        }
        if !self.includes.arches.is_empty() && !self.includes.arches.iter().any(|a| a == go) {
            return Ok(false);
        }
        if self.excludes.caps.iter().any(has) {
            return Ok(false);
        }
        if !self.includes.caps.iter().all(has) {
            return Ok(false);
        }
        if let Some(min) = &self.includes.min_kernel {
            let want = parse_kernel(min)?;
            if kernel.is_some_and(|k| k < want) {
                return Ok(false);
            }
        }
        if let Some(min) = &self.excludes.min_kernel {
            let want = parse_kernel(min)?;
            if kernel.is_none_or(|k| k >= want) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn parse_arch(name: &str) -> Result<Arch, SeccompProfileError> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| SeccompProfileError::Invalid(format!("unknown architecture {name}")))
}

/// "4.8" → (4, 8).
pub fn parse_kernel(v: &str) -> Result<(u32, u32), SeccompProfileError> {
    let bad = || SeccompProfileError::Invalid(format!("invalid kernel version {v:?}"));
    let mut it = v.split('.');
    let major = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let minor = match it.next() {
        Some(s) => s.parse().map_err(|_| bad())?,
        None => 0,
    };
    Ok((major, minor))
}

/// The running kernel's (major, minor), from a `uname -r` string like "6.1.0-13-amd64".
pub fn kernel_from_release(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// One line for `--explain`: default action, number of rules and names, architectures.
pub fn describe(s: &LinuxSeccomp) -> String {
    let rules = s.syscalls().as_ref().map_or(0, Vec::len);
    let names: usize = s.syscalls().iter().flatten().map(|r| r.names().len()).sum();
    let arches: Vec<String> = s
        .architectures()
        .iter()
        .flatten()
        .map(|a| {
            serde_json::to_value(a)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    let default = match s.default_action() {
        LinuxSeccompAction::ScmpActErrno => {
            format!("SCMP_ACT_ERRNO({})", s.default_errno_ret().unwrap_or(1))
        }
        a => a.to_string(),
    };
    format!(
        "default {default}; {rules} rules over {names} syscall names; arches {}",
        if arches.is_empty() {
            "native".to_string()
        } else {
            arches.join(" ")
        }
    )
}

/// Allow only what the arguments say (helper for building profiles in Rust).
pub fn arg(index: usize, value: u64, op: LinuxSeccompOperator) -> LinuxSeccompArg {
    LinuxSeccompArgBuilder::default()
        .index(index)
        .value(value)
        .op(op)
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
        ],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"name": "mount", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
             "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}}
        ]
    }"#;

    fn names(s: &LinuxSeccomp) -> Vec<String> {
        s.syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.names().clone())
            .collect()
    }

    #[test]
    fn conditions_follow_caps_arch_and_kernel() {
        let p = Profile::from_json(PROFILE).unwrap();
        let plain = p.to_oci(&[], HostArch::X86_64, Some((6, 1))).unwrap();
        assert_eq!(
            names(&plain),
            ["read", "write", "clone", "arch_prctl", "ptrace"]
        );
        assert_eq!(plain.architectures().as_ref().map(Vec::len), Some(3));
        assert_eq!(plain.default_errno_ret(), Some(1));
        let admin = p
            .to_oci(&["CAP_SYS_ADMIN".into()], HostArch::Aarch64, Some((4, 4)))
            .unwrap();
        assert_eq!(names(&admin), ["read", "write", "mount"]);
        assert_eq!(
            admin.architectures().clone().unwrap(),
            [Arch::ScmpArchAarch64, Arch::ScmpArchArm]
        );
    }

    #[test]
    fn bad_profiles_are_errors() {
        assert!(Profile::from_json("{").is_err());
        assert!(Profile::from_json(r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).is_err());
        let both = r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#;
        let p = Profile::from_json(both).unwrap();
        assert!(p.to_oci(&[], HostArch::X86_64, None).is_err());
        let name_and_names = r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}]}"#;
        let p = Profile::from_json(name_and_names).unwrap();
        assert!(p.to_oci(&[], HostArch::X86_64, None).is_err());
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel_from_release("6.18.44-fc-v973"), Some((6, 18)));
        assert_eq!(kernel_from_release("5.10.0-26-amd64"), Some((5, 10)));
        assert_eq!(parse_kernel("4.8").unwrap(), (4, 8));
        assert!(parse_kernel("x").is_err());
    }
}
