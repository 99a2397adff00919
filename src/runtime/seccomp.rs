//! `linux.seccomp` → a classic-BPF program compiled by libseccomp. Compiled by the
//! launcher before clone (every error is reported before a process exists) and cached by
//! profile: Docker's profile spans three ABIs on x86_64 (x86_64, x86, x32) and costs
//! libseccomp ~30 ms to compile, more than a whole `run` should spend. Loaded by init where
//! runc loads it: without no_new_privs, before the capabilities are dropped (installing a
//! filter then needs CAP_SYS_ADMIN); with it, just before exec.

use super::sys;
use crate::explain;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use nix::sys::socket;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator, Spec,
};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: {0}")]
    Lib(#[from] libseccomp::error::SeccompError),
    #[error("seccomp: {0} is not supported")]
    Unsupported(String),
    #[error("seccomp: {0}")]
    Invalid(String),
    #[error("seccomp: {what}: {err}")]
    Io {
        what: &'static str,
        err: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, SeccompError>;

/// A compiled filter, ready to load in init.
pub struct Filter {
    bpf: Vec<u8>,
    flags: libc::c_ulong,
    /// Loaded just before exec (no_new_privs set) rather than before dropping caps.
    pub late: bool,
    summary: String,
    /// Where the notify fd goes (the profile has SCMP_ACT_NOTIFY actions).
    pub listener: Option<Listener>,
}

/// A seccomp agent listening at `listenerPath` (runc's contract, runtime-spec
/// config-linux.md "Seccomp"): it gets the container process state with the notify fd.
#[derive(Debug, Clone)]
pub struct Listener {
    path: PathBuf,
    metadata: String,
    oci_version: String,
    annotations: serde_json::Value,
}

/// Where compiled filters are kept, by profile digest (set once by the engine; none: compile
/// every time).
static CACHE_DIR: OnceLock<PathBuf> = OnceLock::new();

pub fn use_cache_dir(dir: PathBuf) {
    let _ = CACHE_DIR.set(dir);
}

const EPERM: i32 = libc::EPERM;

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction> {
    let ret = |d: i32| errno.map_or(Ok(d), i32::try_from);
    let ret = ret(EPERM).map_err(|_| SeccompError::Invalid("errnoRet out of range".into()))?;
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(ret),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(
            u16::try_from(ret).map_err(|_| SeccompError::Invalid("trace value".into()))?,
        ),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    })
}

fn arch(a: Arch) -> Result<ScmpArch> {
    let name = serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    name.parse::<ScmpArch>()
        .map_err(|_| SeccompError::Unsupported(format!("architecture {name}")))
}

fn compare(index: usize, op: LinuxSeccompOperator, value: u64, two: u64) -> Result<ScmpArgCompare> {
    let index = u32::try_from(index)
        .ok()
        .filter(|i| *i < 6)
        .ok_or_else(|| SeccompError::Invalid(format!("argument index {index}")))?;
    let op = match op {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // OCI: `value` is the mask, `valueTwo` what the masked argument must equal.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            return Ok(ScmpArgCompare::new(
                index,
                ScmpCompareOp::MaskedEqual(value),
                two,
            ))
        }
    };
    Ok(ScmpArgCompare::new(index, op, value))
}

/// Compile (or find compiled) the filter of `spec`, if it has one.
pub fn prepare(spec: &Spec) -> Result<Option<Filter>> {
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let nnp = spec
        .process()
        .as_ref()
        .and_then(|p| p.no_new_privileges())
        .unwrap_or(false);
    let mut f = compile(s, nnp)?;
    if let (Some(path), true) = (s.listener_path(), f.flags & NEW_LISTENER != 0) {
        f.listener = Some(Listener {
            path: path.clone(),
            metadata: s.listener_metadata().clone().unwrap_or_default(),
            oci_version: spec.version().clone(),
            annotations: serde_json::to_value(spec.annotations().clone().unwrap_or_default())
                .unwrap_or_default(),
        });
    }
    Ok(Some(f))
}

const NEW_LISTENER: libc::c_ulong = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;

impl Listener {
    /// Connect to the agent and send it the container process state with `fd` attached
    /// (SCM_RIGHTS, in the same message), as runc does; our copy of `fd` closes here.
    pub fn hand_over(&self, fd: OwnedFd, id: &str, pid: i32, bundle: &Path) -> Result<()> {
        let state = serde_json::json!({
            "ociVersion": self.oci_version,
            "fds": ["seccompFd"],
            "pid": pid,
            "metadata": self.metadata,
            "state": {
                "ociVersion": self.oci_version,
                "id": id,
                "status": "creating",
                "pid": pid,
                "bundle": bundle,
                "annotations": self.annotations,
            },
        });
        let io = |err| SeccompError::Io {
            what: "send the notify fd to listenerPath",
            err,
        };
        let bytes = serde_json::to_vec(&state).map_err(|e| io(std::io::Error::other(e)))?;
        let sock = UnixStream::connect(&self.path).map_err(|e| {
            SeccompError::Invalid(format!(
                "connect to listenerPath {}: {e}",
                self.path.display()
            ))
        })?;
        let fds = [fd.as_raw_fd()];
        let sent = socket::sendmsg::<()>(
            sock.as_raw_fd(),
            &[std::io::IoSlice::new(&bytes)],
            &[socket::ControlMessage::ScmRights(&fds)],
            socket::MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(|e| io(e.into()))?;
        if sent != bytes.len() {
            return Err(io(std::io::Error::other("short write")));
        }
        explain::step("seccomp", || {
            format!(
                "notify fd sent to the listener at {} with the container state",
                self.path.display()
            )
        });
        Ok(())
    }
}

/// What the kernel flags of the profile are: a notify action adds NEW_LISTENER (and needs
/// a listenerPath to send the fd to, as in runc).
fn check_and_flags(s: &LinuxSeccomp) -> Result<libc::c_ulong> {
    let notify = s.default_action() == LinuxSeccompAction::ScmpActNotify
        || s.syscalls()
            .iter()
            .flatten()
            .any(|r| r.action() == LinuxSeccompAction::ScmpActNotify);
    if notify && s.listener_path().is_none() {
        return Err(SeccompError::Invalid(
            "listenerPath is not set (SCMP_ACT_NOTIFY needs an agent to send the fd to)".into(),
        ));
    }
    let mut flags = if notify { NEW_LISTENER } else { 0 };
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            // Linux 5.19+: an older kernel refuses the load (EINVAL), reported as such.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv if notify => {
                libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                return Err(SeccompError::Invalid(
                    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY action".into(),
                ))
            }
        };
    }
    Ok(flags)
}

/// The filter of `s`: from the cache when this profile was compiled before by this nsbox
/// and this libseccomp, else compiled now (and cached).
pub fn compile(s: &LinuxSeccomp, nnp: bool) -> Result<Filter> {
    let flags = check_and_flags(s)?;
    let key = cache_key(s);
    let cached = CACHE_DIR.get().and_then(|d| read_cached(&d.join(&key)));
    let (bpf, how) = match cached {
        Some(bpf) => (bpf, "cached".to_string()),
        None => {
            let (ctx, rules, unknown) = build(s)?;
            let bpf = export(&ctx)?;
            if let Some(d) = CACHE_DIR.get() {
                // A cache we cannot write is only slower, never a failure.
                let _ = write_cached(d, &key, &bpf);
            }
            let skipped = if unknown.is_empty() {
                String::new()
            } else {
                format!(", {} names unknown to libseccomp skipped", unknown.len())
            };
            (
                bpf,
                format!("compiled now from {rules} syscall rules{skipped}"),
            )
        }
    };
    let summary = format!(
        "{}; {} BPF instructions ({how})",
        crate::spec::seccomp::describe(s),
        bpf.len() / std::mem::size_of::<libc::sock_filter>()
    );
    Ok(Filter {
        bpf,
        flags,
        late: nnp,
        summary,
        listener: None,
    })
}

/// sha256 of the profile, libseccomp's version and ours.
fn cache_key(s: &LinuxSeccomp) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(s).unwrap_or_default());
    if let Ok(v) = libseccomp::ScmpVersion::current() {
        h.update(format!("libseccomp {}.{}.{}", v.major, v.minor, v.micro));
    }
    h.update(concat!("nsbox ", env!("CARGO_PKG_VERSION"), " optimize=2"));
    format!("{}.bpf", hex::encode(h.finalize()))
}

fn read_cached(path: &std::path::Path) -> Option<Vec<u8>> {
    let bpf = std::fs::read(path).ok()?;
    let insn = std::mem::size_of::<libc::sock_filter>();
    (!bpf.is_empty() && bpf.len().is_multiple_of(insn)).then_some(bpf)
}

/// Temp file then rename: a reader sees a whole program or none.
fn write_cached(dir: &std::path::Path, key: &str, bpf: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{key}.{}", std::process::id()));
    let res = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bpf).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, dir.join(key)));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>> {
    let io = |what| move |err| SeccompError::Io { what, err };
    let fd =
        nix::sys::memfd::memfd_create(c"nsbox-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| io("memfd")(e.into()))?;
    ctx.export_bpf(&fd)?;
    let mut f = std::fs::File::from(fd);
    let mut bpf = Vec::new();
    f.rewind().map_err(io("rewind"))?;
    f.read_to_end(&mut bpf).map_err(io("read"))?;
    Ok(bpf)
}

/// The libseccomp filter of `s`, with the number of rules added and the names skipped.
fn build(s: &LinuxSeccomp) -> Result<(ScmpFilterContext, usize, Vec<String>)> {
    let default = action(s.default_action(), s.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default)?;
    // no_new_privs is the spec's business (process.noNewPrivileges), not libseccomp's.
    ctx.set_ctl_nnp(false)?;
    // A binary tree of syscall numbers instead of one long list: the container's every
    // syscall walks fewer instructions (libseccomp >= 2.5; older ones keep the list).
    let _ = ctx.set_ctl_optimize(2);
    for a in s.architectures().iter().flatten() {
        let a = arch(*a)?;
        if !ctx.is_arch_present(a)? {
            ctx.add_arch(a)?;
        }
    }
    let mut rules = 0;
    let mut unknown = Vec::new();
    for rule in s.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        // libseccomp refuses a rule that repeats the default action; it is a no-op anyway.
        if act == default {
            continue;
        }
        let args = rule.args().clone().unwrap_or_default();
        let conds = args
            .iter()
            .map(|a| compare(a.index(), a.op(), a.value(), a.value_two().unwrap_or(0)))
            .collect::<Result<Vec<_>>>()?;
        // Several conditions on one argument cannot be ANDed by libseccomp: like runc,
        // each becomes a rule of its own (they are alternatives).
        let same_index = args.len() > 1 && args.iter().all(|a| a.index() == args[0].index());
        for name in rule.names() {
            // Like runc: a name libseccomp does not know on this host is skipped.
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                unknown.push(name.clone());
                continue;
            };
            if conds.is_empty() {
                ctx.add_rule(act, sc)?;
            } else if same_index {
                for c in &conds {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))?;
                }
            } else {
                ctx.add_rule_conditional(act, sc, &conds)?;
            }
            rules += 1;
        }
    }
    Ok((ctx, rules, unknown))
}

impl Filter {
    /// Install into this process (in init); the notify fd when the profile has a listener.
    pub fn load(&self) -> Result<Option<OwnedFd>> {
        let notify_fd =
            sys::seccomp_set_filter(&self.bpf, self.flags).map_err(|err| SeccompError::Io {
                what: "load filter",
                err,
            })?;
        explain::step("seccomp", || {
            format!(
                "filter loaded {}: {}",
                if self.late {
                    "just before exec (no_new_privs)"
                } else {
                    "before dropping capabilities"
                },
                self.summary
            )
        });
        Ok(notify_fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::seccomp::{HostArch, Profile};

    #[test]
    fn the_default_profile_builds() {
        let caps: Vec<String> = crate::spec::default_capabilities()
            .iter()
            .map(|c| format!("CAP_{c}"))
            .collect();
        let s = crate::spec::seccomp_default::for_container(&caps, HostArch::current(), None);
        let f = compile(&s, false).unwrap();
        assert!(
            f.summary.contains("default SCMP_ACT_ERRNO(1)"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn notify_needs_a_listener_path_and_asks_for_one() {
        let notify = r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}"#;
        let p = Profile::from_json(notify).unwrap();
        let s = p.to_oci(&[], HostArch::current(), None).unwrap();
        let err = compile(&s, false).err().unwrap().to_string();
        assert!(err.contains("listenerPath"), "{err}");
        let mut s = s;
        s.set_listener_path(Some("/run/x.sock".into()));
        let f = compile(&s, false).unwrap();
        assert_ne!(f.flags & NEW_LISTENER, 0);
        // WAIT_KILLABLE_RECV: with a listener only.
        s.set_flags(Some(vec![
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
        ]));
        let f = compile(&s, false).unwrap();
        assert_ne!(f.flags & libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, 0);
        s.set_syscalls(None);
        let err = compile(&s, false).err().unwrap().to_string();
        assert!(err.contains("WAIT_KILLABLE_RECV"), "{err}");
        // A listener without notify actions changes nothing.
        let p = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x.sock"}"#,
        )
        .unwrap();
        let s = p.to_oci(&[], HostArch::current(), None).unwrap();
        assert_eq!(compile(&s, false).unwrap().flags & NEW_LISTENER, 0);
    }

    #[test]
    fn every_operator_and_action_builds() {
        let p = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
                "syscalls": [
                  {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                  {"names": ["rmdir"], "action": "SCMP_ACT_KILL"},
                  {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
                  {"names": ["kill"], "action": "SCMP_ACT_TRAP"},
                  {"names": ["tkill"], "action": "SCMP_ACT_KILL_PROCESS"},
                  {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 5},
                  {"names": ["no_such_syscall"], "action": "SCMP_ACT_ERRNO"},
                  {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
                     {"index": 0, "value": 1, "op": "SCMP_CMP_NE"},
                     {"index": 0, "value": 2, "op": "SCMP_CMP_LT"}]},
                  {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [
                     {"index": 0, "value": 1, "op": "SCMP_CMP_LE"},
                     {"index": 1, "value": 2, "op": "SCMP_CMP_GE"},
                     {"index": 2, "value": 3, "op": "SCMP_CMP_GT"}]},
                  {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [
                     {"index": 0, "value": 255, "valueTwo": 17, "op": "SCMP_CMP_MASKED_EQ"}]}
                ]}"#,
        )
        .unwrap();
        let s = p.to_oci(&[], HostArch::current(), None).unwrap();
        let f = compile(&s, true).unwrap();
        assert!(f.late);
        assert!(f.summary.contains("1 names unknown"), "{}", f.summary);
    }
}
