//! The few raw syscalls nix does not wrap. Every `unsafe` block of the runtime lives here.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `struct clone_args` from <linux/sched.h> (v2 layout, 88 bytes: up to `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub enum Forked {
    Child,
    Parent { pid: i32, pidfd: OwnedFd },
}

/// fork(2)-like clone3: the child continues here, in new namespaces given by `flags`, and
/// optionally born straight into the cgroup open at `cgroup_fd` (cgroup v2 only).
/// The parent gets a pidfd, so it can poll for the child's exit without SIGCHLD races.
///
/// The caller must be single-threaded (the launcher is): the child gets a copy of only
/// the calling thread, so locks held by other threads would stay locked forever.
pub fn clone_fork(flags: u64, cgroup_fd: Option<RawFd>) -> io::Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        // CLONE_PARENT (a sibling of ours) takes our exit signal; clone3 wants 0 then.
        exit_signal: if flags & libc::CLONE_PARENT as u64 != 0 {
            0
        } else {
            libc::SIGCHLD as u64
        },
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= 0x2_0000_0000; // CLONE_INTO_CGROUP (libc's constant is deprecated as too narrow)
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 with no stack behaves like fork: the child runs on a copy of this
    // stack. `args` and `pidfd` outlive the call; the size matches the struct we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    // Under a seccomp profile like Docker's, clone3 fails with ENOSYS (a filter cannot see
    // its flags): fall back to clone(2), as libc does. No cgroup placement there.
    let ret = if ret == -1
        && cgroup_fd.is_none()
        && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS)
    {
        let clone_flags = flags | libc::CLONE_PIDFD as u64 | libc::SIGCHLD as u64;
        // SAFETY: clone without CLONE_VM and with no new stack behaves like fork (the child
        // runs on a copy of this stack); the kernel writes the pidfd into `pidfd` (the
        // parent_tid argument with CLONE_PIDFD), which outlives the call.
        unsafe {
            libc::syscall(
                libc::SYS_clone,
                clone_flags as libc::c_ulong,
                0 as libc::c_ulong,
                &mut pidfd as *mut libc::c_int,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        }
    } else {
        ret
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => {
            // SAFETY: the kernel wrote a fresh pidfd that nobody else owns.
            let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
            Ok(Forked::Parent {
                pid: pid as i32,
                pidfd,
            })
        }
    }
}

/// Mark every fd from `first` up close-on-exec, so the container inherits only stdio.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: plain syscall on integer arguments.
    let ret = unsafe { libc::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Close every descriptor from `first` up except `keep`: a forked monitor must not hold
/// the caller's pipes and files open (`run -d … 3>&1 | cat` would wait for the container).
pub fn close_fds_except(first: u32, keep: RawFd) -> io::Result<()> {
    let keep = u32::try_from(keep).unwrap_or(0);
    let ranges = if keep >= first {
        [(first, keep.checked_sub(1)), (keep + 1, Some(u32::MAX))]
    } else {
        [(first, Some(u32::MAX)), (1, Some(0))]
    };
    for (lo, hi) in ranges {
        let Some(hi) = hi.filter(|hi| *hi >= lo) else {
            continue;
        };
        // SAFETY: plain syscall on integer arguments; the caller owns no Rust object on
        // the descriptors it closes (it has just forked and uses only `keep` and stdio).
        if unsafe { libc::close_range(lo, hi, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Bring the loopback interface up (a new network namespace starts with `lo` down).
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: creating a socket has no memory-safety preconditions.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Make `fd` (a pty slave) the controlling terminal of this session.
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument, no pointers.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The window size of a terminal, or None if `fd` is not one.
pub fn get_winsize(fd: BorrowedFd<'_>) -> Option<libc::winsize> {
    // SAFETY: winsize is plain old data; TIOCGWINSZ writes into it.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: see above; the pointer is valid for the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (ret == 0).then_some(ws)
}

pub fn set_winsize(fd: BorrowedFd<'_>, ws: &libc::winsize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ reads the winsize we pass.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Send `sig` to the process behind a pidfd (no pid-reuse race).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: plain syscall; a null siginfo means "as kill(2) would".
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Leave the process right now, without running atexit handlers or flushing stdio
/// buffers shared with the parent (what a forked child must do on failure).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Take ownership of a descriptor the kernel just installed for us (SCM_RIGHTS, accept).
pub fn own_received_fd(raw: RawFd) -> OwnedFd {
    // SAFETY: a descriptor just received with SCM_RIGHTS or returned by accept is new in
    // this process and nothing else refers to it.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// Reset `sig` to `action` (only ever SIG_DFL here: no Rust code runs as a handler).
pub fn reset_signal(
    sig: nix::sys::signal::Signal,
    action: &nix::sys::signal::SigAction,
) -> nix::Result<nix::sys::signal::SigAction> {
    // SAFETY: installing SIG_DFL cannot run a handler, so no async-signal-safety concern.
    unsafe { nix::sys::signal::sigaction(sig, action) }
}

/// dup2(2) on raw descriptors: `target` becomes a copy of `fd` (stdio set-up before exec).
pub fn dup2(fd: RawFd, target: RawFd) -> io::Result<()> {
    if fd == target {
        return Ok(());
    }
    // SAFETY: dup2 only acts on the descriptor table; a bad fd is reported as EBADF.
    if unsafe { libc::dup2(fd, target) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Install a classic-BPF seccomp filter (`prog`: whole `struct sock_filter`s, 8 bytes
/// each) on the calling thread with seccomp(SECCOMP_SET_MODE_FILTER, flags).
pub fn seccomp_set_filter(prog: &[u8], flags: libc::c_ulong) -> io::Result<Option<OwnedFd>> {
    const INSN: usize = std::mem::size_of::<libc::sock_filter>();
    if prog.is_empty() || !prog.len().is_multiple_of(INSN) || prog.len() / INSN > u16::MAX as usize
    {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // Copied into properly aligned instructions (the bytes may come from a file).
    let insns: Vec<libc::sock_filter> = prog
        .chunks_exact(INSN)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let fprog = libc::sock_fprog {
        len: insns.len() as u16,
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: fprog points at `insns`, alive and unmodified for the duration of the call;
    // the kernel copies the program and keeps no pointer to our memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    // SAFETY: with NEW_LISTENER the kernel returned a new fd (the notify listener, close-on-
    // exec), which nobody else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as RawFd) }))
}

/// fgetxattr(2): the extended attribute `name` of the file open at `fd`.
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &str) -> io::Result<Vec<u8>> {
    let name =
        std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut buf = vec![0u8; 256];
    // SAFETY: `name` is NUL-terminated and `buf` is valid for `buf.len()` bytes for the call.
    let n = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

// ---- user namespaces: idmapped mounts (helper h7; the lead may reconcile with other
// ---- helpers' open_tree/move_mount wrappers) ----

/// `struct mount_attr` from <linux/mount.h>.
#[repr(C)]
#[derive(Default)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

/// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at `path` (just that
/// mount, not the ones below it), as an fd.
pub fn open_tree_clone(path: &std::ffi::CStr) -> io::Result<OwnedFd> {
    // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a fresh descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// mount_setattr(2) with MOUNT_ATTR_IDMAP: ids seen through the detached mount `tree` are
/// mapped by the user namespace `userns` (on-disk 0 becomes that namespace's root).
pub fn mount_setattr_idmap(tree: BorrowedFd<'_>, userns: BorrowedFd<'_>) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        userns_fd: userns.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: `attr` outlives the call and its size is the one passed; "" with
    // AT_EMPTY_PATH means the fd itself.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// move_mount(2): attach the detached tree `tree` on `target`.
pub fn move_mount_to(tree: BorrowedFd<'_>, target: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: both strings are valid NUL-terminated strings for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
// ---- end of the user namespace block ----

const KEYCTL_SETPERM: libc::c_int = 5;
const KEYCTL_DESCRIBE: libc::c_int = 6;
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): make the session keyring called `name` (an
/// existing one we may search, else a new one) this process's session keyring.
pub fn keyctl_join_session_keyring(name: &std::ffi::CStr) -> io::Result<i32> {
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as i32)
}

/// keyctl(KEYCTL_DESCRIBE): "type;uid;gid;perm;description" of a key.
pub fn keyctl_describe(key: i32) -> io::Result<String> {
    let mut buf = vec![0u8; 512];
    // SAFETY: the kernel writes at most `buf.len()` bytes into the buffer we own.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            key,
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // The return value is the full length including the NUL, even if it was cut.
    let len = (ret as usize).min(buf.len());
    buf.truncate(len);
    while buf.last() == Some(&0) {
        buf.pop();
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// keyctl(KEYCTL_SETPERM): set a key's permission mask.
pub fn keyctl_setperm(key: i32, perm: u32) -> io::Result<()> {
    // SAFETY: plain syscall on integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, key, perm) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
/// MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV.
pub const MOUNT_ATTR_RDONLY_NOSUID_NODEV: libc::c_uint = 0x1 | 0x2 | 0x4;

/// fsopen(2): a new filesystem context (close-on-exec) for the filesystem type `fstype`.
pub fn fsopen(fstype: &std::ffi::CStr) -> io::Result<OwnedFd> {
    // SAFETY: `fstype` is NUL-terminated and outlives the call.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// fsconfig(2) FSCONFIG_SET_STRING: set the option `key` to `value`.
pub fn fsconfig_set_string(
    ctx: BorrowedFd<'_>,
    key: &std::ffi::CStr,
    value: &std::ffi::CStr,
) -> io::Result<()> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fsconfig(2) FSCONFIG_CMD_CREATE: create the superblock.
pub fn fsconfig_create(ctx: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: no pointers are passed (NULL key and value).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fsmount(2): a detached mount (in no mount namespace) of the context's superblock.
pub fn fsmount(ctx: BorrowedFd<'_>, attrs: libc::c_uint) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall on integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_fsmount, ctx.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
/// BPF_PROG_TYPE_CGROUP_DEVICE.
pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// BPF_CGROUP_DEVICE (attach type).
pub const BPF_CGROUP_DEVICE: u32 = 6;
/// BPF_F_ALLOW_MULTI: our program runs next to any attached by a parent cgroup's owner.
pub const BPF_F_ALLOW_MULTI: u32 = 2;

/// The BPF_PROG_LOAD part of `union bpf_attr` (fields up to expected_attach_type).
#[repr(C)]
#[derive(Default)]
struct BpfProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The BPF_PROG_ATTACH part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct BpfProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// bpf(BPF_PROG_LOAD): load `insns` (raw 8-byte `struct bpf_insn`s) as a program of
/// `prog_type`; on a verifier refusal the error carries the verifier's log.
pub fn bpf_prog_load(
    prog_type: u32,
    expected_attach_type: u32,
    insns: &[u64],
    name: &str,
) -> io::Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = BpfProgLoadAttr {
        prog_type,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        expected_attach_type,
        ..Default::default()
    };
    for (dst, src) in attr.prog_name.iter_mut().zip(name.bytes().take(15)) {
        *dst = src;
    }
    // SAFETY: `attr` points at the instructions, the license and the log buffer, all alive
    // for the call; the size is that of the struct we pass.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &mut attr as *mut BpfProgLoadAttr,
            std::mem::size_of::<BpfProgLoadAttr>(),
        )
    };
    if fd < 0 {
        let err = io::Error::last_os_error();
        let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
        let text = String::from_utf8_lossy(&log[..end]);
        // The verifier's reason is the line before its closing statistics.
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let reason = lines.len().checked_sub(2).map_or("", |i| lines[i]);
        if reason.is_empty() {
            return Err(err);
        }
        return Err(io::Error::new(
            err.kind(),
            format!("{err} (verifier: {reason})"),
        ));
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// bpf(BPF_PROG_ATTACH): attach `prog` to the cgroup open at `cgroup`.
pub fn bpf_prog_attach(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
) -> io::Result<()> {
    let mut attr = BpfProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
        ..Default::default()
    };
    // SAFETY: `attr` is a plain struct alive for the call; the size matches it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &mut attr as *mut BpfProgAttachAttr,
            std::mem::size_of::<BpfProgAttachAttr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
