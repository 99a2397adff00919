//! User namespaces: `--userns=auto` (ranges from a private subuid/subgid file),
//! `--uidmap`/`--gidmap`, OCI bundles with uidMappings, and what a mapped root may do.

mod common;

use common::{stderr, stdout, Env};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Where the private subuid/subgid files put root's ids.
const BASE: u32 = 1_000_000;
const SIZE: u32 = 65536;

/// A private /etc/subuid and /etc/subgid giving root three ranges from BASE.
struct Subids {
    dir: tempfile::TempDir,
}

impl Subids {
    fn new(root_line: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = match root_line {
            Some(l) => format!("alice:200000:65536\n{l}\n"),
            None => "alice:200000:65536\n".to_string(),
        };
        for f in ["subuid", "subgid"] {
            std::fs::write(dir.path().join(f), &text).unwrap();
        }
        Subids { dir }
    }

    fn standard() -> Self {
        Self::new(Some(&format!("root:{BASE}:{}", 3 * SIZE)))
    }

    fn run(&self, env: &Env, args: &[&str]) -> Output {
        env.cmd()
            .env("NSBOX_SUBUID_FILE", self.dir.path().join("subuid"))
            .env("NSBOX_SUBGID_FILE", self.dir.path().join("subgid"))
            .args(args)
            .output()
            .expect("spawn nsbox")
    }

    fn ok(&self, env: &Env, args: &[&str]) -> String {
        let out = self.run(env, args);
        assert!(
            out.status.success(),
            "nsbox {args:?} failed ({:?}): {}",
            out.status.code(),
            stderr(&out)
        );
        stdout(&out)
    }
}

fn container_dirs(env: &Env) -> Vec<PathBuf> {
    std::fs::read_dir(env.root().join("containers"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// "0 HOST SIZE" of a uid_map line, as numbers.
fn map_line(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .map(|n| n.parse().expect("number in uid_map"))
        .collect()
}

/// The host uid a running container's root maps to, read from its uid_map.
fn host_root_of(env: &Env, s: &Subids, name: &str) -> u32 {
    let m = map_line(&s.ok(env, &["exec", name, "cat", "/proc/self/uid_map"]));
    assert_eq!(m.len(), 3, "{m:?}");
    m[1]
}

#[test]
fn auto_maps_root_to_a_subordinate_range_with_the_image_owned_by_root() {
    let env = Env::with_busybox();
    let s = Subids::standard();
    let out = s.ok(
        &env,
        &[
            "run",
            "--name",
            "a1",
            "--userns=auto",
            "busybox",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /bin/busybox; \
             mkdir -p /made && touch /made/file",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0], "0");
    assert_eq!(map_line(lines[1]), vec![0, BASE, SIZE]);
    assert_eq!(map_line(lines[2]), vec![0, BASE, SIZE]);
    assert_eq!(
        lines[3], "0:0",
        "image files belong to the container's root"
    );
    // What the container made is owned by its mapped root on the host.
    let dirs = container_dirs(&env);
    assert_eq!(dirs.len(), 1);
    for p in ["upper/made", "upper/made/file"] {
        let md = std::fs::metadata(dirs[0].join(p)).unwrap();
        assert_eq!((md.uid(), md.gid()), (BASE, BASE), "{p}");
    }
    // A second start mounts the rootfs the same way.
    let again = s.ok(&env, &["start", "-a", "a1"]);
    assert!(again.starts_with("0\n"), "{again}");
    s.ok(&env, &["rm", "a1"]);
    assert!(container_dirs(&env).is_empty());
}

#[test]
fn concurrent_auto_containers_get_disjoint_ranges_freed_on_rm() {
    let env = Env::with_busybox();
    let s = Subids::standard();
    for n in ["c1", "c2"] {
        s.ok(
            &env,
            &[
                "run",
                "-d",
                "--name",
                n,
                "--userns=auto",
                "busybox",
                "sleep",
                "60",
            ],
        );
    }
    let (h1, h2) = (host_root_of(&env, &s, "c1"), host_root_of(&env, &s, "c2"));
    let mut got = [h1, h2];
    got.sort();
    assert_eq!(
        got,
        [BASE, BASE + SIZE],
        "disjoint ranges from the subuid file"
    );
    // exec'd processes are in the container's user namespace too.
    assert_eq!(s.ok(&env, &["exec", "c1", "id", "-u"]), "0\n");
    // The lower range is free again once its holder is removed, and the next one takes it.
    let lower = if h1 == BASE { "c1" } else { "c2" };
    s.ok(&env, &["rm", "-f", lower]);
    s.ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "c3",
            "--userns=auto",
            "busybox",
            "sleep",
            "60",
        ],
    );
    assert_eq!(host_root_of(&env, &s, "c3"), BASE);
    let other = if lower == "c1" { "c2" } else { "c1" };
    s.ok(&env, &["rm", "-f", other, "c3"]);
    assert!(container_dirs(&env).is_empty());
}

#[test]
fn explicit_uidmap_and_gidmap_work_like_auto() {
    let env = Env::with_busybox();
    let s = Subids::new(None);
    let out = s.ok(
        &env,
        &[
            "run",
            "--rm",
            "--uidmap",
            "0:100000:65536",
            "--gidmap",
            "0:100000:65536",
            "busybox",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox; touch /ok",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "0");
    assert_eq!(map_line(lines[1]), vec![0, 100000, 65536]);
    assert_eq!(lines[2], "0");
    assert!(container_dirs(&env).is_empty());
}

#[test]
fn bad_maps_fail_in_one_line_with_125_and_leave_nothing() {
    let env = Env::with_busybox();
    let no_root = Subids::new(None);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--uidmap", "0:100000:0", "--gidmap", "0:100000:1"],
            "size must be at least 1",
        ),
        (
            vec![
                "--uidmap",
                "0:100000:10",
                "--uidmap",
                "5:300000:10",
                "--gidmap",
                "0:100000:10",
            ],
            "overlap",
        ),
        (
            vec!["--uidmap", "0:100000:10", "--gidmap", "0:100000"],
            "CONTAINER:HOST:SIZE",
        ),
        (vec!["--userns=keep-id"], "expected host or auto"),
        (
            vec!["--userns=auto"],
            "add a line such as \"root:100000:65536\"",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend(flags.iter());
        args.extend(["busybox", "true"]);
        let out = no_root.run(&env, &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("nsbox: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert!(container_dirs(&env).is_empty(), "{args:?} left a container");
        assert!(env.mounts().is_empty(), "{args:?} left mounts");
    }
    // The subuid file exists but root's range is used up by a running container.
    let one = Subids::new(Some(&format!("root:{BASE}:{SIZE}")));
    one.ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "full",
            "--userns=auto",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let out = one.run(&env, &["run", "--rm", "--userns=auto", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("no free range"), "{}", stderr(&out));
    one.ok(&env, &["rm", "-f", "full"]);
    assert!(container_dirs(&env).is_empty());
}

#[test]
fn mapped_root_cannot_write_a_host_root_file_bound_read_write() {
    let env = Env::with_busybox();
    let s = Subids::standard();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.path().join("hostfile");
    std::fs::write(&file, "host\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let bind = format!("{}:/h", dir.path().display());
    let out = s.run(
        &env,
        &[
            "run",
            "--rm",
            "--userns=auto",
            "-v",
            &bind,
            "busybox",
            "sh",
            "-c",
            "stat -c %u:%g /h/hostfile; echo more >> /h/hostfile && echo wrote",
        ],
    );
    let text = stdout(&out);
    assert_eq!(text.lines().next(), Some("65534:65534"), "{text}");
    assert!(!text.contains("wrote"), "{text}");
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "host\n");
    // Without a user namespace root writes it, as before.
    s.ok(
        &env,
        &[
            "run",
            "--rm",
            "-v",
            &bind,
            "busybox",
            "sh",
            "-c",
            "echo more >> /h/hostfile",
        ],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "host\nmore\n");
}

/// A bundle whose rootfs is a plain directory owned by the host's root.
fn make_bundle(parent: &Path, script: &str) -> Option<PathBuf> {
    if !Path::new("/bin/busybox").exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "/bin/busybox is needed (busybox-static)"
        );
        eprintln!("/bin/busybox missing; skipping");
        return None;
    }
    let bundle = parent.join("bundle");
    let rootfs = bundle.join("rootfs");
    for d in ["bin", "proc", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    let cfg = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/busybox", "sh", "-c", script],
            "env": ["PATH=/bin"],
            "cwd": "/"
        },
        "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {
            "namespaces": [{"type": "user"}, {"type": "pid"}, {"type": "mount"}],
            "uidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}]
        }
    });
    std::fs::write(bundle.join("config.json"), cfg.to_string()).unwrap();
    Some(bundle)
}

#[test]
fn bundle_with_uid_mappings_runs_in_its_user_namespace() {
    let env = Env::new();
    let parent = tempfile::tempdir().unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(bundle) = make_bundle(
        parent.path(),
        "busybox id -u; busybox cat /proc/self/uid_map; busybox stat -c %u /bin/busybox; \
         busybox touch /tmp/made",
    ) else {
        return;
    };
    let out = env.nsbox(&["run", "--bundle", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "0");
    assert_eq!(map_line(lines[1]), vec![0, 300000, 65536]);
    assert_eq!(
        lines[2], "0",
        "the rootfs is idmapped: root's files are the container's"
    );
    // Written through the idmapped rootfs: owned by root on disk, as the container saw it.
    let md = std::fs::metadata(bundle.join("rootfs/tmp/made")).unwrap();
    assert_eq!(md.uid(), 0);
    assert!(container_dirs(&env).is_empty());
    // The bundle's config decides: the flags are refused rather than dropped.
    let out = env.nsbox(&["run", "--userns=auto", "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("do not apply to --bundle"),
        "{}",
        stderr(&out)
    );
    assert!(container_dirs(&env).is_empty());
}

#[test]
fn bundle_with_a_new_user_namespace_joins_the_hosts_network_namespace_by_path() {
    let env = Env::new();
    let parent = tempfile::tempdir().unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(bundle) = make_bundle(
        parent.path(),
        "busybox id -u; busybox readlink /proc/self/ns/net",
    ) else {
        return;
    };
    // The host's network namespace (owned by the host's user namespace) joined by path
    // while the container gets its own user namespace: joined before the clone.
    let host_net = format!("/proc/{}/ns/net", std::process::id());
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "network", "path": host_net}));
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let out = env.nsbox(&["run", "--bundle", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "0");
    let want = std::fs::read_link(&host_net).unwrap();
    assert_eq!(lines[1], want.to_str().unwrap());
    assert!(container_dirs(&env).is_empty());
}

#[test]
fn new_volumes_belong_to_the_mapped_root() {
    let env = Env::with_busybox();
    let s = Subids::standard();
    // An empty new volume, and one filled from the image's /etc.
    let out = s.ok(
        &env,
        &[
            "run",
            "--rm",
            "--userns=auto",
            "-v",
            "empty:/data",
            "-v",
            "etc:/etc",
            "busybox",
            "sh",
            "-c",
            "stat -c %u /data /etc/passwd; touch /data/x /etc/y && echo wrote",
        ],
    );
    assert_eq!(out, "0\n0\nwrote\n");
    let data = env.root().join("volumes/empty/_data/x");
    assert_eq!(std::fs::metadata(data).unwrap().uid(), BASE);
    let etc = env.root().join("volumes/etc/_data/passwd");
    assert_eq!(std::fs::metadata(etc).unwrap().uid(), BASE);
    env.ok(&["volume", "rm", "empty", "etc"]);
}

#[test]
fn host_network_with_a_user_namespace_sees_the_hosts_sys_read_only() {
    let env = Env::with_busybox();
    let s = Subids::standard();
    let out = s.run(
        &env,
        &[
            "run",
            "--rm",
            "--userns=auto",
            "--network",
            "host",
            "busybox",
            "sh",
            "-c",
            "id -u; test -d /sys/class/net/lo && echo lo; touch /sys/x",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "0\nlo\n");
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    assert!(container_dirs(&env).is_empty());
}

#[test]
fn commit_and_export_write_what_the_container_saw() {
    let env = Env::with_busybox();
    let s = Subids::standard();
    s.ok(
        &env,
        &[
            "run",
            "--name",
            "w",
            "--userns=auto",
            "busybox",
            "sh",
            "-c",
            "touch /made && chown 5:6 /made && touch /mine",
        ],
    );
    env.ok(&["commit", "w", "shifted:1"]);
    // The new image's files carry the container's ids, not the host's.
    let out = env.ok(&[
        "run",
        "--rm",
        "shifted:1",
        "stat",
        "-c",
        "%u:%g",
        "/made",
        "/mine",
        "/bin/busybox",
    ]);
    assert_eq!(out, "5:6\n0:0\n0:0\n");
    let tar = env.root().join("w.tar");
    env.ok(&["export", "-o", tar.to_str().unwrap(), "w"]);
    let mut archive = tar::Archive::new(std::fs::File::open(&tar).unwrap());
    let mut owners = std::collections::BTreeMap::new();
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        let path = e.path().unwrap().display().to_string();
        if ["made", "mine", "bin/busybox"].contains(&path.as_str()) {
            owners.insert(path, (e.header().uid().unwrap(), e.header().gid().unwrap()));
        }
    }
    assert_eq!(owners.len(), 3, "{owners:?}");
    assert_eq!(owners["made"], (5, 6));
    assert_eq!(owners["mine"], (0, 0));
    assert_eq!(owners["bin/busybox"], (0, 0));
    env.ok(&["rm", "w"]);
    env.ok(&["rmi", "shifted:1"]);
}

#[test]
fn a_mapping_of_root_alone_runs() {
    let env = Env::with_busybox();
    let s = Subids::new(None);
    // gid 5 (tty, devpts' default group) is not mapped: devpts is mounted without it.
    let out = s.ok(
        &env,
        &[
            "run",
            "--rm",
            "--uidmap",
            "0:100000:1",
            "--gidmap",
            "0:100000:1",
            "busybox",
            "sh",
            "-c",
            "id -u; test -e /dev/pts/ptmx && echo pts",
        ],
    );
    assert_eq!(out, "0\npts\n");
}
