//! Proves the VM stage of `make test` (tests/vm/run.sh + a nextest archive) runs our test
//! binaries in a pure cgroup-v2 guest. Outside the guest (NSBOX_IN_VM unset) it skips.

mod common;

use common::in_vm;

#[test]
fn guest_has_unified_cgroup_with_controllers() {
    if !in_vm() {
        return;
    }
    let controllers = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .expect("cgroup2 mounted at /sys/fs/cgroup");
    for c in ["cpu", "io", "memory", "pids", "cpuset"] {
        assert!(
            controllers.split_whitespace().any(|x| x == c),
            "controller {c} missing: {controllers}"
        );
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert!(own.starts_with("0::/"), "not a pure v2 hierarchy: {own}");
    assert_eq!(own.lines().count(), 1, "v1 hierarchies present: {own}");
}

#[test]
fn guest_can_mount_overlay() {
    if !in_vm() {
        return;
    }
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap();
    assert!(fs.contains("overlay"), "overlay not available: {fs}");
}
