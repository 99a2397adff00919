//! Seeing the layers: inspect against the real overlay mount, diff, commit, export, save
//! (through skopeo and back), history and the layer explorer on images with known sizes.
mod common;

use common::{stderr, stdout, Env};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tar::EntryType;

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Exit `code` with one line on stderr.
fn assert_fails(env: &Env, args: &[&str], code: i32) -> String {
    let out = env.nsbox(args);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "nsbox {args:?}: stdout {} stderr {err}",
        stdout(&out)
    );
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    err
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(String::from).collect()
}

/// A container left exited with these edits in its upper dir.
fn edited(env: &Env, name: &str) {
    env.ok(&[
        "run",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "echo new > /tmp/new; echo extra >> /etc/passwd; rm /bin/cat; \
         rm -rf /usr/bin; mkdir /usr/bin; echo only > /usr/bin/only",
    ]);
}

/// A container running `sleep` in the background, and its nsbox process.
fn background(env: &Env, name: &str) -> Child {
    let child = env
        .cmd()
        .args(["run", "--name", name, "busybox", "sleep", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nsbox run");
    // Wait until it is really running: state says so and the overlay is mounted.
    common::wait_until(30, &format!("{name} running"), || {
        let out = env.nsbox(&["inspect", "-f", "{{.State.Running}}", name]);
        stdout(&out).trim() == "true"
    });
    child
}

fn stop(env: &Env, name: &str, mut child: Child) {
    env.ok(&["rm", "-f", name]);
    common::wait_child(&mut child, 30);
}

/// The super options of the mount at `mountpoint`, from /proc/self/mountinfo.
fn mount_options(mountpoint: &str) -> Option<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let fields: Vec<&str> = l.split(' ').collect();
        if fields.get(4) != Some(&mountpoint) {
            return None;
        }
        let dash = fields.iter().position(|f| *f == "-")?;
        fields.get(dash + 3).map(|s| s.to_string())
    })
}

#[test]
fn inspect_shows_the_real_overlay_mount() {
    let env = Env::with_busybox();
    let child = background(&env, "web");
    let v: Value = serde_json::from_str(&env.ok(&["inspect", "web"])).unwrap();
    let c = &v[0];
    let data = &c["GraphDriver"]["Data"];
    assert_eq!(c["GraphDriver"]["Name"], "overlay");
    let merged = data["MergedDir"].as_str().unwrap().to_string();
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.GraphDriver.Data.MergedDir}}", "web"])
            .trim(),
        merged
    );
    assert!(
        Path::new(&merged).join("bin").is_dir(),
        "merged dir is live"
    );

    let opts = mount_options(&merged).expect("overlay mounted at MergedDir");
    let mut lower = None;
    let mut upper = None;
    for o in opts.split(',') {
        if let Some(l) = o.strip_prefix("lowerdir=") {
            lower = Some(l.to_string());
        }
        if let Some(u) = o.strip_prefix("upperdir=") {
            upper = Some(u.to_string());
        }
    }
    // Short links l/<hex> are relative to <root>/overlay: resolve them to the layer dirs.
    let overlay = env.root().join("overlay");
    let resolved: Vec<PathBuf> = lower
        .unwrap()
        .split(':')
        .map(|l| fs::canonicalize(overlay.join(l)).unwrap())
        .collect();
    let shown: Vec<PathBuf> = data["LowerDir"]
        .as_str()
        .unwrap()
        .split(':')
        .map(|l| fs::canonicalize(l).unwrap())
        .collect();
    assert_eq!(resolved, shown, "LowerDir, top first, as mounted");
    assert_eq!(resolved.len(), 2);
    assert_eq!(
        fs::canonicalize(upper.unwrap()).unwrap(),
        fs::canonicalize(data["UpperDir"].as_str().unwrap()).unwrap()
    );
    assert!(Path::new(data["WorkDir"].as_str().unwrap()).is_dir());

    let pid: i32 = env
        .ok(&["inspect", "-f", "{{.State.Pid}}", "web"])
        .trim()
        .parse()
        .unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    let mounts: Value =
        serde_json::from_str(env.ok(&["inspect", "-f", "{{json .Mounts}}", "web"]).trim()).unwrap();
    assert_eq!(mounts, json!([]));
    assert_eq!(
        env.ok(&[
            "inspect",
            "-f",
            "{{.Config.Image}} {{index .Config.Cmd 0}} {{range .Args}}<{{.}}>{{end}}",
            "web"
        ])
        .trim(),
        "busybox sleep <60>"
    );
    assert_eq!(c["Name"], "/web");
    assert!(c["Config"]["Hostname"].as_str().unwrap().len() == 12);
    stop(&env, "web", child);

    // Volumes and images through the same command; kinds can be forced.
    env.ok(&["volume", "create", "data"]);
    assert_eq!(
        env.ok(&[
            "inspect",
            "--type",
            "volume",
            "-f",
            "{{.Name}} {{.Driver}}",
            "data"
        ])
        .trim(),
        "data local"
    );
    assert!(env
        .ok(&["inspect", "-f", "{{.Id}}", "busybox"])
        .starts_with("sha256:"));
    assert_fails(&env, &["inspect", "--type", "container", "busybox"], 1);
    assert_fails(&env, &["inspect", "nosuch"], 1);
    assert_fails(&env, &["inspect", "-f", "{{.State.Pid", "data"], 125);
    assert_fails(&env, &["inspect", "-f", "{{.NoSuchField}}", "busybox"], 125);
}

#[test]
fn diff_reports_adds_changes_deletes_and_opaque_dirs() {
    let env = Env::with_busybox();
    edited(&env, "ed");
    let got = lines(&env.ok(&["diff", "ed"]));
    assert_eq!(
        got,
        [
            "C /bin",
            "D /bin/cat",
            "C /etc",
            "C /etc/passwd",
            "C /tmp",
            "A /tmp/new",
            "C /usr",
            "C /usr/bin",
            "A /usr/bin/only",
        ]
    );
    assert_fails(&env, &["diff", "nosuch"], 1);
    env.ok(&["rm", "ed"]);
}

#[test]
fn commit_makes_an_image_that_keeps_the_changes() {
    let env = Env::with_busybox();
    edited(&env, "ed");
    let id = env
        .ok(&[
            "commit",
            "-m",
            "my edits",
            "-c",
            r#"CMD ["grep", "new", "/tmp/new"]"#,
            "ed",
            "mybox:v2",
        ])
        .trim()
        .to_string();
    assert!(id.starts_with("sha256:"));
    assert_eq!(env.ok(&["run", "--rm", "mybox:v2"]), "new\n");
    let seen = env.ok(&[
        "run",
        "--rm",
        "mybox:v2",
        "sh",
        "-c",
        "test -e /bin/cat && echo cat-here; ls /usr/bin; grep extra /etc/passwd",
    ]);
    assert_eq!(
        seen, "only\nextra\n",
        "deletions and the opaque dir survive"
    );

    let img: Value = serde_json::from_str(&env.ok(&["image", "inspect", "mybox:v2"])).unwrap();
    let base: Value = serde_json::from_str(&env.ok(&["image", "inspect", "busybox"])).unwrap();
    let layers = img[0]["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert_eq!(
        &layers[..2],
        base[0]["RootFS"]["Layers"].as_array().unwrap()
    );
    assert_eq!(img[0]["Config"]["Cmd"], json!(["grep", "new", "/tmp/new"]));
    let hist: Value =
        serde_json::from_str(&env.ok(&["history", "--format", "json", "mybox:v2"])).unwrap();
    assert_eq!(hist[0]["comment"], "my edits");
    assert_eq!(hist[0]["id"], id.as_str());
    // The runtime's /etc/hostname placeholders stay out of the layer.
    assert_eq!(
        env.ok(&["layers", "--format", "json", "mybox:v2"])
            .matches("\"layer\"")
            .count(),
        3
    );

    // Bad input: nothing is written.
    let before = env.ok(&["images", "-q"]);
    assert_fails(&env, &["commit", "nosuch", "x:1"], 1);
    assert_fails(&env, &["commit", "ed", "Bad Name"], 125);
    assert_fails(&env, &["commit", "-c", "RUN rm -rf /", "ed", "x:1"], 125);
    assert_eq!(env.ok(&["images", "-q"]), before);
    assert_eq!(fs::read_dir(env.root().join("tmp")).unwrap().count(), 0);
    env.ok(&["rm", "ed"]);
}

#[test]
fn export_writes_the_merged_filesystem_running_or_not() {
    let env = Env::with_busybox();
    edited(&env, "ed");
    let out = env.root().join("ed.tar");
    env.ok(&["export", "-o", out.to_str().unwrap(), "ed"]);
    let names = tar_names(&fs::read(&out).unwrap());
    assert!(names.contains("tmp/new"));
    assert!(names.contains("usr/bin/only"));
    assert!(!names.contains("bin/cat"), "deleted file exported");
    assert!(
        !names.contains("etc/motd"),
        "file deleted by the image exported"
    );
    assert!(names.contains("bin/busybox"));
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("usr/bin/") && n != "usr/bin/only"),
        "opaque dir leaked lower files"
    );
    assert!(env.mounts().is_empty(), "export mounted something");

    let child = background(&env, "web");
    let out2 = env.root().join("web.tar");
    env.ok(&["export", "-o", out2.to_str().unwrap(), "web"]);
    assert!(tar_names(&fs::read(&out2).unwrap()).contains("bin/cat"));
    stop(&env, "web", child);
    env.ok(&["rm", "ed"]);
}

fn tar_names(data: &[u8]) -> BTreeSet<String> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            e.path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string()
        })
        .collect()
}

// ---- a test image with known sizes ------------------------------------------------------

const MIB: usize = 1 << 20;

fn layer_tar(entries: &[(&str, EntryType, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(if *kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// An OCI layout: layer 0 has /big (1 MiB), /keep (100 B), /dir/a (10 B), /dir/b (20 B);
/// layer 1 deletes /big, replaces /keep (50 B), makes /dir opaque and adds /dir/c (5 B).
/// Returns the layout dir and the manifest digest.
fn known_image(dir: &Path) -> (PathBuf, String) {
    let l0 = layer_tar(&[
        ("big", EntryType::Regular, vec![7u8; MIB]),
        ("keep", EntryType::Regular, vec![1u8; 100]),
        ("dir/", EntryType::Directory, vec![]),
        ("dir/a", EntryType::Regular, vec![2u8; 10]),
        ("dir/b", EntryType::Regular, vec![3u8; 20]),
    ]);
    let l1 = layer_tar(&[
        (".wh.big", EntryType::Regular, vec![]),
        ("keep", EntryType::Regular, vec![4u8; 50]),
        ("dir/", EntryType::Directory, vec![]),
        ("dir/.wh..wh..opq", EntryType::Regular, vec![]),
        ("dir/c", EntryType::Regular, vec![5u8; 5]),
    ]);
    let layout = dir.join("known");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let h = sha(data);
        fs::write(blobs.join(&h), data).unwrap();
        h
    };
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha(&l0)), format!("sha256:{}", sha(&l1))]},
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": "layer one"},
            {"created": "2024-01-01T00:00:00Z", "created_by": "ENV X=1", "empty_layer": true},
            {"created": "2024-01-01T00:00:00Z", "created_by": "layer two"},
        ],
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", put(&config)), "size": config.len()},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{}", put(&l0)), "size": l0.len()},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{}", put(&l1)), "size": l1.len()},
        ],
    }))
    .unwrap();
    let mhex = put(&manifest);
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{mhex}"), "size": manifest.len(),
            "annotations": {"io.containerd.image.name": "known:1", "org.opencontainers.image.ref.name": "1"},
        }]}))
        .unwrap(),
    )
    .unwrap();
    (layout, format!("sha256:{mhex}"))
}

fn json_of(env: &Env, args: &[&str]) -> Value {
    serde_json::from_str(&env.ok(args)).unwrap()
}

#[test]
fn history_and_layers_match_hand_computed_figures() {
    let env = Env::new();
    let (layout, _) = known_image(env.root());
    env.ok(&["load", "-q", "-i", layout.to_str().unwrap()]);

    let h = json_of(&env, &["history", "--format", "json", "known:1"]);
    let rows: Vec<(String, u64)> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["created_by"].as_str().unwrap().to_string(),
                r["size"].as_u64().unwrap(),
            )
        })
        .collect();
    let l0 = (MIB + 100 + 10 + 20) as u64;
    assert_eq!(
        rows,
        [
            ("layer two".to_string(), 55),
            ("ENV X=1".to_string(), 0),
            ("layer one".to_string(), l0)
        ]
    );
    let table = env.ok(&["history", "known:1"]);
    assert!(table.starts_with("IMAGE"), "{table}");
    assert!(table.contains("1.05MB") && table.contains("55B"), "{table}");

    let l = json_of(&env, &["layers", "--format", "json", "known:1"]);
    let figures: Vec<[u64; 4]> = l
        .as_array()
        .unwrap()
        .iter()
        .map(|x| ["size", "added", "modified", "deleted"].map(|k| x[k].as_u64().unwrap()))
        .collect();
    // Layer 0: 5 entries added. Layer 1: dir/c added, keep modified, big + dir/a + dir/b gone.
    assert_eq!(figures, [[l0, 5, 0, 0], [55, 1, 1, 3]]);

    let keep = json_of(&env, &["layers", "--format", "json", "known:1", "/keep"]);
    assert_eq!(keep["provided_by"], 1);
    let actions: Vec<&str> = keep["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["adds", "replaces"]);
    let big = json_of(&env, &["layers", "--format", "json", "known:1", "/big"]);
    assert_eq!(big["provided_by"], Value::Null);
    assert_eq!(big["events"][1]["action"], "deletes");
    let a = json_of(&env, &["layers", "--format", "json", "known:1", "/dir/a"]);
    assert_eq!(a["events"][1]["action"], "hides");
    let text = env.ok(&["layers", "known:1", "/keep"]);
    assert!(text.contains("provided by layer 1"), "{text}");

    let w = json_of(&env, &["layers", "--wasted", "--format", "json", "known:1"]);
    assert_eq!(w["total"], l0);
    assert_eq!(w["files"][0]["path"], "/big");
    assert_eq!(w["files"][0]["size"], MIB as u64);
    assert_eq!(w["files"][0]["how"], "deleted");
    assert_eq!(w["files"][1]["path"], "/keep");
    assert_eq!(w["files"][1]["how"], "replaced");
    let text = env.ok(&["layers", "--wasted", "known:1"]);
    assert!(text.starts_with("Wasted: 1.05MB in 4 file(s)"), "{text}");

    assert_fails(&env, &["layers", "nosuch"], 1);
    assert_fails(&env, &["layers", "known:1", "relative/path"], 125);
    assert_fails(&env, &["history", "nosuch"], 1);
}

#[test]
fn container_view_has_its_upper_dir_on_top() {
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "w",
        "busybox",
        "sh",
        "-c",
        "head -c 4096 /dev/zero > /tmp/z; rm /bin/busybox.x 2>/dev/null; true",
    ]);
    let l = json_of(&env, &["layers", "--format", "json", "w"]);
    let top = l.as_array().unwrap().last().unwrap().clone();
    assert_eq!(top["digest"], "container (upper dir)");
    assert_eq!(top["size"], 4096);
    let z = json_of(&env, &["layers", "--format", "json", "w", "/tmp/z"]);
    assert_eq!(z["provided_by"], 2);
    env.ok(&["rm", "w"]);
}

#[test]
fn save_round_trips_through_skopeo_with_the_same_digests() {
    if !common::require_tool("skopeo") {
        return;
    }
    let env = Env::new();
    let (layout, manifest) = known_image(env.root());
    env.ok(&["load", "-q", "-i", layout.to_str().unwrap()]);
    let id = env.ok(&["inspect", "-f", "{{.Id}}", "known:1"]);
    let archive = env.root().join("x.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), "known:1"]);

    // The archive carries the manifest the image came with, byte for byte.
    let mut a = tar::Archive::new(fs::File::open(&archive).unwrap());
    let index = a
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path().unwrap().to_str() == Some("index.json"))
        .map(|e| serde_json::from_reader::<_, Value>(e).unwrap())
        .unwrap();
    assert_eq!(index["manifests"][0]["digest"], manifest.as_str());
    assert_eq!(
        index["manifests"][0]["annotations"]["io.containerd.image.name"],
        "known:1"
    );
    // skopeo would gzip the plain layers unless told to keep digests.
    let oci = env.root().join("oci");
    let run = |args: &[&str]| {
        let out = Command::new("skopeo").args(args).output().unwrap();
        assert!(out.status.success(), "skopeo {args:?}: {}", stderr(&out));
    };
    run(&[
        "copy",
        "-q",
        "--preserve-digests",
        &format!("oci-archive:{}", archive.display()),
        &format!("oci:{}:known:1", oci.display()),
    ]);
    let index: Value = serde_json::from_slice(&fs::read(oci.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], manifest.as_str());

    let back = env.root().join("back.tar");
    run(&[
        "copy",
        "-q",
        "--preserve-digests",
        &format!("oci:{}:known:1", oci.display()),
        &format!("oci-archive:{}:known:1", back.display()),
    ]);
    let fresh = Env::new();
    fresh.ok(&["load", "-q", "-i", back.to_str().unwrap()]);
    let loaded = fresh
        .ok(&["image", "inspect", "known:1"])
        .contains(id.trim());
    assert!(loaded, "same image id after the round trip");
    assert_eq!(
        fresh.ok(&["layers", "--format", "json", "known:1"]),
        env.ok(&["layers", "--format", "json", "known:1"])
            .replace(env.root().to_str().unwrap(), fresh.root().to_str().unwrap())
    );

    // A committed image saves too, and loads back as the same image.
    let env = Env::with_busybox();
    env.ok(&["run", "--name", "c", "busybox", "sh", "-c", "echo hi > /hi"]);
    let id = env.ok(&["commit", "c", "hi:1"]);
    let archive = env.root().join("hi.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), "hi:1"]);
    let fresh = Env::new();
    fresh.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    assert_eq!(fresh.ok(&["inspect", "-f", "{{.Id}}", "hi:1"]), id);
    assert_eq!(fresh.ok(&["run", "--rm", "hi:1", "cat", "/hi"]), "hi\n");
    assert_fails(&env, &["save", "-o", "/nonexistent/dir/x.tar", "hi:1"], 125);
    assert_fails(
        &env,
        &["save", "-o", archive.to_str().unwrap(), "nosuch"],
        1,
    );
    env.ok(&["rm", "c"]);
}
