//! Reclaiming unreferenced data: `image prune [-a]`, `system df`, `system prune [-a]
//! [--volumes]`, and what a load or commit killed with SIGKILL at each step leaves (only
//! what the next command's sweep or `image prune` reclaims; every listed image whole).

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;

/// The store's contents that matter: blob names, records, layer sizes, layer dirs and
/// scratch entries (the lock and the tags file aside).
fn store_snapshot(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for d in [
        "images/blobs/sha256",
        "images/db",
        "images/layers",
        "overlay",
        "tmp",
    ] {
        if let Ok(rd) = fs::read_dir(root.join(d)) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if d == "overlay" && name == "l" {
                    continue;
                }
                out.insert(format!("{d}/{name}"));
            }
        }
    }
    // Short links must all point at a layer that is there.
    if let Ok(rd) = fs::read_dir(root.join("overlay/l")) {
        for e in rd.flatten() {
            assert!(
                fs::metadata(e.path()).is_ok(),
                "dangling short link {:?}",
                e.path()
            );
        }
    }
    out
}

/// Bytes of the regular files below `dir`, hard links once, symlinks not followed.
fn du(dir: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let m = fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() && seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

/// go-units' HumanSize (3 significant digits, decimal units), to compare with df.
fn human(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let int_digits = if v >= 1.0 {
        v.log10().floor() as i32 + 1
    } else {
        1
    };
    let dec = (3 - int_digits).max(0) as usize;
    let mut s = format!("{v:.dec$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", units[i])
}

/// `nsbox` with `input` on stdin.
fn with_stdin(env: &Env, args: &[&str], input: &str) -> std::process::Output {
    let mut c = env.cmd();
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn image_ids(env: &Env) -> Vec<String> {
    env.ok(&["images", "-q"])
        .lines()
        .map(String::from)
        .collect()
}

/// A container `name` that wrote a file, exited, and an untagged image committed from it.
fn dangling_image(env: &Env, name: &str) -> String {
    env.ok(&[
        "run",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "head -c 3000 /dev/zero > /f",
    ]);
    let id = env.ok(&["commit", name]).trim().to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    id
}

fn assert_store_empty(env: &Env) {
    let left = store_snapshot(env.root());
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(image_ids(env).is_empty());
}

#[test]
fn image_prune_takes_dangling_images_and_with_all_every_unused_one() {
    let env = Env::with_busybox();
    let busybox = store_snapshot(env.root());
    let id = dangling_image(&env, "c1");
    assert_eq!(image_ids(&env).len(), 2);

    // Without -f: Docker's prompt, and "n" keeps everything.
    let out = with_stdin(&env, &["image", "prune"], "n\n");
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
    );
    assert_eq!(image_ids(&env).len(), 2);

    // What prune frees: the unpacked bytes of the committed image's own layer.
    let own_layer: u64 = store_snapshot(env.root())
        .difference(&busybox)
        .filter_map(|e| e.strip_prefix("overlay/"))
        .map(|hex| du(&env.root().join("overlay").join(hex).join("diff")))
        .sum();
    assert!(own_layer >= 3000);
    let out = env.ok(&["image", "prune", "-f"]);
    assert!(out.starts_with("Deleted Images:\n"), "{out}");
    assert!(out.contains(&format!("deleted: {id}\n")), "{out}");
    assert!(
        out.ends_with(&format!("\nTotal reclaimed space: {}\n", human(own_layer))),
        "{out}"
    );
    assert_eq!(image_ids(&env).len(), 1);
    // Only busybox's data is left: the new layer dir and blobs went with the image.
    assert_eq!(store_snapshot(env.root()), busybox);

    // Filters that select nothing remove nothing.
    for f in ["label=no.such.label", "until=1969-12-31T00:00:00Z"] {
        let out = env.ok(&["image", "prune", "-a", "-f", "--filter", f]);
        assert_eq!(out, "Total reclaimed space: 0B\n", "{f}");
    }
    let bad = env.nsbox(&["image", "prune", "-f", "--filter", "colour=red"]);
    assert_eq!(bad.status.code(), Some(125));
    assert_eq!(stderr(&bad).lines().count(), 1);

    // -a keeps an image a container uses, even a stopped one.
    env.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(image_ids(&env).len(), 1);
    env.ok(&["rm", "c1"]);
    let out = env.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: busybox:latest\n"), "{out}");
    assert_store_empty(&env);
}

#[test]
fn system_df_counts_what_is_on_disk() {
    let env = Env::with_busybox();
    dangling_image(&env, "c1"); // c1 stays, stopped, using busybox
    env.ok(&["volume", "create", "named"]);
    env.ok(&[
        "run",
        "--name",
        "c2",
        "-v",
        "named:/data",
        "busybox",
        "sh",
        "-c",
        "head -c 7000 /dev/zero > /data/x",
    ]);
    let root = env.root();
    // Images: every layer dir once; the committed image's own layer is reclaimable.
    let rec: Value = serde_json::from_str(&env.ok(&["image", "inspect", "busybox"])).unwrap();
    let busybox_layers: HashSet<String> = rec[0]["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l.as_str()
                .unwrap()
                .trim_start_matches("sha256:")
                .to_string()
        })
        .collect();
    let (mut all, mut unused) = (0, 0);
    for e in fs::read_dir(root.join("overlay")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "l" {
            continue;
        }
        let size = du(&e.path().join("diff"));
        all += size;
        if !busybox_layers.contains(&name) {
            unused += size;
        }
    }
    let containers: u64 = fs::read_dir(root.join("containers"))
        .unwrap()
        .flatten()
        .map(|e| du(&e.path().join("upper")))
        .sum();
    let volumes = du(&root.join("volumes/named/_data"));
    assert_eq!(volumes, 7000);

    let out = env.ok(&["system", "df", "--format", "json"]);
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pct = |part: u64, whole: u64| format!("{} ({}%)", human(part), part * 100 / whole);
    let want = [
        ("Images", "2", "1", human(all), pct(unused, all)),
        (
            "Containers",
            "2",
            "0",
            human(containers),
            pct(containers, containers),
        ),
        ("Local Volumes", "1", "1", human(volumes), pct(0, volumes)),
        ("Build Cache", "0", "0", "0B".into(), "0B".into()),
    ];
    assert_eq!(rows.len(), want.len(), "{out}");
    for (row, (ty, total, active, size, recl)) in rows.iter().zip(want) {
        assert_eq!(row["Type"], ty, "{out}");
        assert_eq!(row["TotalCount"], total, "{ty}: {out}");
        assert_eq!(row["Active"], active, "{ty}: {out}");
        assert_eq!(row["Size"], size.as_str(), "{ty}: {out}");
        assert_eq!(row["Reclaimable"], recl.as_str(), "{ty}: {out}");
    }
    let table = env.ok(&["system", "df"]);
    assert!(
        table.starts_with("TYPE            TOTAL   ACTIVE   SIZE"),
        "{table}"
    );
    let t = env.ok(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]);
    assert_eq!(
        t,
        "Images=2\nContainers=2\nLocal Volumes=1\nBuild Cache=0\n"
    );
    let v = env.ok(&["system", "df", "-v"]);
    for section in [
        "Images space usage:",
        "Containers space usage:",
        "Local Volumes space usage:",
        "Build cache usage: 0B",
    ] {
        assert!(v.contains(section), "{v}");
    }
    env.ok(&["rm", "c1", "c2"]);
}

#[test]
fn system_prune_takes_stopped_containers_dangling_images_and_anonymous_volumes() {
    let env = Env::with_busybox();
    let busybox = store_snapshot(env.root());
    let dangling = dangling_image(&env, "c1");
    env.ok(&["volume", "create", "keepme"]);
    env.ok(&["run", "--name", "c2", "-v", "/anon", "busybox", "true"]);
    let anon: Vec<String> = env
        .ok(&["volume", "ls", "-q"])
        .lines()
        .filter(|n| n.len() == 64)
        .map(String::from)
        .collect();
    assert_eq!(anon.len(), 1);
    env.ok(&["run", "-d", "--name", "up", "busybox", "sleep", "600"]);

    let out = with_stdin(&env, &["system", "prune", "--volumes"], "\n");
    assert_eq!(
        stdout(&out),
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all anonymous volumes not used by at least one container\n  - all dangling images\n  - unused build cache\n\nAre you sure you want to continue? [y/N] "
    );
    assert_eq!(env.ok(&["ps", "-aq"]).lines().count(), 3);

    // Without --volumes: containers and the dangling image go, volumes stay.
    let out = env.ok(&["system", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert!(out.contains(&format!("deleted: {dangling}\n")), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert!(!out.contains("Deleted Volumes"), "{out}");
    assert_eq!(env.ok(&["ps", "-aq"]).lines().count(), 1, "the running one");
    assert_eq!(env.ok(&["volume", "ls", "-q"]).lines().count(), 2);

    // --volumes: the anonymous volume no container uses goes, the named one stays.
    let out = env.ok(&["system", "prune", "-f", "--volumes"]);
    assert!(
        out.contains(&format!("Deleted Volumes:\n{}\n", anon[0])),
        "{out}"
    );
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "keepme\n");

    // -a: busybox stays while the running container uses it.
    env.ok(&["system", "prune", "-a", "-f"]);
    assert_eq!(image_ids(&env).len(), 1);
    assert_eq!(store_snapshot(env.root()), busybox);
    env.ok(&["rm", "-f", "up"]);
    let out = env.ok(&["system", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: busybox:latest"), "{out}");
    assert_store_empty(&env);
}

const CRASH_POINTS: [&str; 5] = [
    "layer-staged",
    "commit-locked",
    "blobs-moved",
    "layers-moved",
    "record-written",
];

/// Every listed image is whole: it runs.
fn assert_listed_images_whole(env: &Env, what: &str) {
    for id in image_ids(env) {
        let out = env.nsbox(&["run", "--rm", &id, "true"]);
        assert!(
            out.status.success(),
            "{what}: listed image {id} is not whole: {}",
            stderr(&out)
        );
    }
}

#[test]
fn load_killed_at_each_step_leaves_only_what_prune_reclaims() {
    let archive = busybox_archive();
    for point in CRASH_POINTS {
        let env = Env::new();
        let out = env
            .cmd()
            .env("NSBOX_TEST_CRASH_AT", point)
            .args(["load", "-q", "-i", archive.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(9), "{point}: {}", stderr(&out));
        // The next command sweeps the dead loader's scratch entries.
        assert_listed_images_whole(&env, point);
        let tmp: Vec<_> = fs::read_dir(env.root().join("tmp"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(tmp.is_empty(), "{point}: scratch left: {tmp:?}");
        // Nothing is tagged yet, so prune takes everything the load left.
        env.ok(&["image", "prune", "-f"]);
        assert_store_empty(&env);
        // And a load afterwards is whole.
        env.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
        env.ok(&["run", "--rm", "busybox", "true"]);
    }
}

#[test]
fn commit_killed_at_each_step_leaves_only_what_prune_reclaims() {
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "head -c 3000 /dev/zero > /f",
    ]);
    let before = store_snapshot(env.root());
    for point in &CRASH_POINTS[1..] {
        let out = env
            .cmd()
            .env("NSBOX_TEST_CRASH_AT", point)
            .args(["commit", "c1", "committed:1"])
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(9), "{point}: {}", stderr(&out));
        assert_listed_images_whole(&env, point);
        env.ok(&["image", "prune", "-f"]);
        assert_eq!(store_snapshot(env.root()), before, "{point}");
        env.ok(&["run", "--rm", "busybox", "true"]);
    }
    env.ok(&["commit", "c1", "committed:1"]);
    env.ok(&["run", "--rm", "committed:1", "cat", "/f"]);
    env.ok(&["rm", "c1"]);
}
