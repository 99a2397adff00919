//! The device cgroup: what container root may open. On cgroup v2 there is no devices
//! controller, so nsbox attaches a BPF_PROG_TYPE_CGROUP_DEVICE program built from the
//! spec's rules (issue 11 §7). Runs in the pure cgroup-v2 guest of the VM stage (tests/vm);
//! on this hybrid host the v1 devices controller does the job and the test skips.

mod common;

use common::{stderr, stdout, Env};

fn in_vm() -> bool {
    std::env::var_os("NSBOX_IN_VM").is_some_and(|v| v == "1")
}

/// Container root makes /dev/kmsg (c 1 11) with mknod, then writes a line to it (reading
/// it would need CAP_SYSLOG, whatever the device filter says).
const PROBE: &str = "B=/bin/busybox; $B mknod /dev/kmsg2 c 1 11 || echo MKNOD-FAILED; \
     echo nsbox-device-filter-probe > /dev/kmsg2 && echo WRITE-OK; \
     echo x > /dev/null && echo NULL-OK";

#[test]
fn mknod_made_devices_are_refused_by_default() {
    if !in_vm() {
        eprintln!("skipped: the v2 device filter is tested in the VM (NSBOX_IN_VM != 1)");
        return;
    }
    let env = Env::with_busybox();
    let out = env.nsbox(&["run", "--rm", "busybox", "sh", "-c", PROBE]);
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{e}");
    assert!(
        !o.contains("MKNOD-FAILED"),
        "CAP_MKNOD makes the node: {o}{e}"
    );
    assert!(!o.contains("WRITE-OK"), "kmsg opened: {o}{e}");
    assert!(
        format!("{o}{e}").contains("Operation not permitted"),
        "refused with EPERM: {o}{e}"
    );
    assert!(o.contains("NULL-OK"), "/dev/null still works: {o}{e}");
}

#[test]
fn a_bundle_rule_allows_what_it_says() {
    if !in_vm() {
        eprintln!("skipped: the v2 device filter is tested in the VM (NSBOX_IN_VM != 1)");
        return;
    }
    let env = Env::with_busybox();
    let bundle = env.root().join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs/bin")).unwrap();
    std::fs::create_dir_all(bundle.join("rootfs/tmp")).unwrap();
    std::fs::copy("/bin/busybox", bundle.join("rootfs/bin/busybox")).unwrap();
    let made = std::process::Command::new("runc")
        .arg("spec")
        .current_dir(&bundle)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "runc is required under CI"
        );
        eprintln!("skipping: runc not installed (for `runc spec`)");
        return;
    }
    let path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    cfg["process"]["terminal"] = false.into();
    cfg["process"]["args"] = serde_json::json!(["/bin/busybox", "sh", "-c", PROBE]);
    cfg["root"]["readonly"] = false.into();
    for set in ["bounding", "effective", "permitted"] {
        let caps = cfg["process"]["capabilities"][set].as_array_mut().unwrap();
        caps.push("CAP_MKNOD".into());
    }
    // runc's default "deny all", then writing /dev/kmsg, as `--device /dev/kmsg:/dev/kmsg:w`
    // would; mknod of char devices as Docker allows it.
    cfg["linux"]["resources"]["devices"] = serde_json::json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "access": "m"},
        {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}
    ]);
    std::fs::write(&path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let out = env.nsbox(&[
        "run",
        "--bundle",
        bundle.to_str().unwrap(),
        "--name",
        "dev1",
    ]);
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{o}{e}");
    assert!(!o.contains("MKNOD-FAILED"), "{o}{e}");
    assert!(o.contains("WRITE-OK"), "the allowed write: {o}{e}");
    assert!(o.contains("NULL-OK"), "the runtime's own /dev/null: {o}{e}");
}
