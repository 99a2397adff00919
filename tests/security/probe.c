/* Confinement probe for tests/security.rs: one line "name=ok" or "name=ERRNO" per probe
 * given on the command line. Built static by the test and bound into the container. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EROFS: return "EROFS";
    case ENOENT: return "ENOENT";
    case ENXIO: return "ENXIO";
    case EEXIST: return "EEXIST";
    default: return strerror(e);
    }
}

static void report(const char *name, long rc) {
    if (rc < 0) printf("%s=%s\n", name, ename(errno));
    else printf("%s=ok\n", name);
}

/* Write a file's own content back to it. */
static long rewrite(const char *path) {
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0) return -1;
    fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    n = write(fd, buf, n);
    int e = errno;
    close(fd);
    errno = e;
    return n;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *p = argv[i];
        long rc;
        errno = 0;
        if (!strcmp(p, "keyctl")) {
            rc = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
        } else if (!strcmp(p, "io_uring_setup")) {
            struct io_uring_params params;
            memset(&params, 0, sizeof params);
            rc = syscall(SYS_io_uring_setup, 1, &params);
            if (rc >= 0) close(rc);
        } else if (!strcmp(p, "perf_event_open")) {
            struct perf_event_attr a;
            memset(&a, 0, sizeof a);
            a.size = sizeof a;
            a.type = PERF_TYPE_SOFTWARE;
            a.config = PERF_COUNT_SW_TASK_CLOCK;
            a.disabled = 1;
            a.exclude_kernel = 1;
            a.exclude_hv = 1;
            rc = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
            if (rc >= 0) close(rc);
        } else if (!strcmp(p, "unshare_user")) {
            /* In a child: the new user namespace would take our capabilities away. */
            pid_t pid = fork();
            if (pid == 0) _exit(unshare(CLONE_NEWUSER) < 0 ? errno : 0);
            int st = 0;
            waitpid(pid, &st, 0);
            errno = WIFEXITED(st) ? WEXITSTATUS(st) : EINVAL;
            rc = errno ? -1 : 0;
        } else if (!strcmp(p, "mount")) {
            rc = mount("none", "/tmp", "tmpfs", 0, "size=1m");
            if (rc == 0) umount("/tmp");
        } else if (!strcmp(p, "mknod")) {
            unlink("/tmp/probe-loop0");
            rc = mknod("/tmp/probe-loop0", S_IFBLK | 0600, makedev(7, 0));
        } else if (!strcmp(p, "open_mknoded")) {
            rc = open("/tmp/probe-loop0", O_RDONLY);
            if (rc >= 0) close(rc);
        } else if (!strcmp(p, "procsys_write")) {
            rc = rewrite("/proc/sys/kernel/shmmni");
        } else if (!strcmp(p, "sysrq_write")) {
            /* Only where it must fail: 'h' would merely print help to the kernel log. */
            int fd = open("/proc/sysrq-trigger", O_WRONLY);
            rc = fd;
            if (fd >= 0) { rc = write(fd, "h", 1); close(fd); }
        } else if (!strcmp(p, "kcore_read")) {
            char b;
            int fd = open("/proc/kcore", O_RDONLY);
            rc = fd;
            if (fd >= 0) {
                rc = read(fd, &b, 1);
                close(fd);
                if (rc == 0) { printf("%s=empty\n", p); continue; }
            }
        } else if (!strcmp(p, "sethostname")) {
            char name[65] = {0};
            gethostname(name, 64);
            rc = sethostname(name, strlen(name));
        } else if (!strcmp(p, "clock_settime")) {
            /* CLOCK_MONOTONIC cannot be set: EINVAL when the call gets through, EPERM
             * when seccomp stops it. Never changes the time. */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            rc = syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts);
        } else {
            printf("%s=unknown-probe\n", p);
            continue;
        }
        report(p, rc);
    }
    return 0;
}
