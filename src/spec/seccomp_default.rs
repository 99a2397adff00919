//! Docker's default seccomp profile, the same rules as moby's
//! `profiles/seccomp/default.json` (as of 2026: io_uring refused since moby 25, AF_ALG
//! and AF_VSOCK sockets refused), written as Rust: refuse (EPERM) everything but an allow
//! list; open the privileged syscalls only to containers holding the capability that the
//! kernel would check anyway; let `clone` make threads and processes but no namespaces
//! without CAP_SYS_ADMIN; make `clone3` fail with ENOSYS (so libc falls back to `clone`,
//! whose flags a filter can see). Conditions are resolved per container by
//! [`Profile::to_oci`].

use super::seccomp::{arg, ArchMap, Filter, HostArch, Profile, Rule};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompOperator as Op};

/// EPERM, the default errno; ENOSYS for clone3.
const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
/// CLONE_NEWPID | CLONE_NEWNET: `clone` is allowed when none of these are set.
pub const CLONE_NS_FLAGS: u64 = 0x7E02_0000;

/// Allowed to every container.
const ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "get_robust_list",
    "get_thread_area",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    "ioctl",
    "ioprio_get",
    "ioprio_set",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "riscv_hwprobe",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "setsid",
    "setsockopt",
    "setuid",
    "setuid32",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "uretprobe",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// Syscalls opened by one capability each.
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// Syscalls of one architecture family (Go's arch names, as in moby's profile).
const BY_ARCH: &[(&[&str], &[&str])] = &[
    (&["ppc64le"], &["sync_file_range2", "swapcontext"]),
    (
        &["arm", "arm64"],
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
    ),
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (
        &["s390", "s390x"],
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    (&["riscv64"], &["riscv_flush_icache"]),
];

/// `personality` values allowed: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
/// and 0xffffffff (query).
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// Address families around the two `socket` refuses (AF_ALG and AF_VSOCK).
const AF_ALG: u64 = 38;
const AF_NFC: u64 = 39;
const AF_VSOCK: u64 = 40;

fn strings(l: &[&str]) -> Vec<String> {
    l.iter().map(|s| s.to_string()).collect()
}

fn allow(names: &[&str]) -> Rule {
    Rule {
        name: None,
        names: strings(names),
        action: Act::ScmpActAllow,
        errno_ret: None,
        args: None,
        includes: Filter::default(),
        excludes: Filter::default(),
        comment: None,
    }
}

/// Docker's default profile, with its conditions still unresolved.
pub fn profile() -> Profile {
    let mut rules = vec![allow(ALLOWED)];
    rules.push(Rule {
        includes: Filter {
            min_kernel: Some("4.8".into()),
            ..Filter::default()
        },
        ..allow(&["process_vm_readv", "process_vm_writev", "ptrace"])
    });
    // socket: every address family but AF_ALG (38) and AF_VSOCK (40).
    for (value, op) in [
        (AF_ALG, Op::ScmpCmpLt),
        (AF_NFC, Op::ScmpCmpEq),
        (AF_VSOCK, Op::ScmpCmpGt),
    ] {
        rules.push(Rule {
            args: Some(vec![arg(0, value, op)]),
            ..allow(&["socket"])
        });
    }
    for p in PERSONALITIES {
        rules.push(Rule {
            args: Some(vec![arg(0, *p, Op::ScmpCmpEq)]),
            ..allow(&["personality"])
        });
    }
    for (arches, names) in BY_ARCH {
        rules.push(Rule {
            includes: Filter {
                arches: strings(arches),
                ..Filter::default()
            },
            ..allow(names)
        });
    }
    for (cap, names) in BY_CAPABILITY {
        rules.push(Rule {
            includes: Filter {
                caps: vec![cap.to_string()],
                ..Filter::default()
            },
            ..allow(names)
        });
        if *cap == "CAP_SYS_ADMIN" {
            // Without CAP_SYS_ADMIN: clone without namespace flags (s390 swaps the first
            // two arguments), and clone3 fails with ENOSYS so libc falls back to clone.
            let no_admin = vec!["CAP_SYS_ADMIN".to_string()];
            rules.push(Rule {
                args: Some(vec![arg(0, CLONE_NS_FLAGS, Op::ScmpCmpMaskedEq)]),
                excludes: Filter {
                    caps: no_admin.clone(),
                    arches: strings(&["s390", "s390x"]),
                    ..Filter::default()
                },
                ..allow(&["clone"])
            });
            rules.push(Rule {
                args: Some(vec![arg(1, CLONE_NS_FLAGS, Op::ScmpCmpMaskedEq)]),
                includes: Filter {
                    arches: strings(&["s390", "s390x"]),
                    ..Filter::default()
                },
                excludes: Filter {
                    caps: no_admin.clone(),
                    ..Filter::default()
                },
                comment: Some("s390 parameter ordering for clone is different".into()),
                ..allow(&["clone"])
            });
            rules.push(Rule {
                action: Act::ScmpActErrno,
                errno_ret: Some(ENOSYS),
                excludes: Filter {
                    caps: no_admin,
                    ..Filter::default()
                },
                ..allow(&["clone3"])
            });
        }
    }
    let arch_map = [
        ("SCMP_ARCH_X86_64", &["SCMP_ARCH_X86", "SCMP_ARCH_X32"][..]),
        ("SCMP_ARCH_AARCH64", &["SCMP_ARCH_ARM"][..]),
    ]
    .iter()
    .map(|(a, subs)| ArchMap {
        architecture: a.to_string(),
        sub_architectures: Some(strings(subs)),
    })
    .collect();
    Profile {
        default_action: Act::ScmpActErrno,
        default_errno_ret: Some(EPERM),
        architectures: None,
        arch_map: Some(arch_map),
        flags: None,
        listener_path: None,
        listener_metadata: None,
        syscalls: Some(rules),
    }
}

/// Docker's default profile for a container with these capabilities (the bounding set,
/// `CAP_…` names) on this host.
pub fn for_container(caps: &[String], arch: HostArch, kernel: Option<(u32, u32)>) -> LinuxSeccomp {
    // Every rule of ours parses and no condition is malformed: this cannot fail, but stay
    // total rather than panic.
    profile()
        .to_oci(caps, arch, kernel)
        .unwrap_or_else(|_| LinuxSeccomp::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Arch;

    fn allowed(s: &LinuxSeccomp, name: &str) -> Vec<String> {
        s.syscalls()
            .iter()
            .flatten()
            .filter(|r| r.names().iter().any(|n| n == name))
            .map(|r| {
                format!(
                    "{} {:?}",
                    r.action(),
                    r.args()
                        .iter()
                        .flatten()
                        .map(|a| (a.index(), a.value(), a.op().to_string()))
                        .collect::<Vec<_>>()
                )
            })
            .collect()
    }

    #[test]
    fn default_container_gets_no_namespaces_mounts_or_keyring_of_its_own() {
        let caps: Vec<String> = crate::spec::default_capabilities()
            .iter()
            .map(|c| format!("CAP_{c}"))
            .collect();
        let s = for_container(&caps, HostArch::X86_64, Some((6, 1)));
        assert_eq!(s.default_action(), Act::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert_eq!(
            s.architectures().clone().unwrap(),
            [Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
        );
        for refused in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "keyctl",
            "add_key",
            "perf_event_open",
            "bpf",
            "ptrace_x",
            "clock_settime",
            "reboot",
            "init_module",
            "open_by_handle_at",
        ] {
            assert!(allowed(&s, refused).is_empty(), "{refused} allowed");
        }
        assert_eq!(
            allowed(&s, "clone"),
            [format!(
                "SCMP_ACT_ALLOW [(0, {CLONE_NS_FLAGS}, \"SCMP_CMP_MASKED_EQ\")]"
            )]
        );
        assert_eq!(allowed(&s, "clone3"), ["SCMP_ACT_ERRNO []"]);
        assert_eq!(allowed(&s, "chroot"), ["SCMP_ACT_ALLOW []"]);
        assert_eq!(allowed(&s, "arch_prctl"), ["SCMP_ACT_ALLOW []"]);
        assert_eq!(allowed(&s, "personality").len(), 5);
        assert!(allowed(&s, "set_tls").is_empty());
        assert!(allowed(&s, "io_uring_setup").is_empty());
        assert_eq!(allowed(&s, "socket").len(), 3);
    }

    #[test]
    fn capabilities_open_their_syscalls() {
        let caps = strings(&["CAP_SYS_ADMIN", "CAP_SYS_TIME", "CAP_SYS_PTRACE"]);
        let s = for_container(&caps, HostArch::Aarch64, Some((6, 1)));
        assert_eq!(
            s.architectures().clone().unwrap(),
            [Arch::ScmpArchAarch64, Arch::ScmpArchArm]
        );
        for open in [
            "mount",
            "unshare",
            "setns",
            "clock_settime",
            "kcmp",
            "set_tls",
        ] {
            assert!(!allowed(&s, open).is_empty(), "{open} refused");
        }
        // With CAP_SYS_ADMIN clone is allowed outright and clone3 is not refused.
        assert_eq!(allowed(&s, "clone"), ["SCMP_ACT_ALLOW []"]);
        assert_eq!(allowed(&s, "clone3"), ["SCMP_ACT_ALLOW []"]);
        assert!(allowed(&s, "arch_prctl").is_empty());
    }
}
