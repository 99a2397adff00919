//! Images made by other tools load and run: umoci (layers with a `/` entry and no final
//! padding), skopeo (`docker save` archives of them), buildah (OCI archives and layouts).
//! Absolute entries are relative to the layer root; entries and links that leave the layer
//! are still refused. Each tool gets private storage under a temp dir, never the system's.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Whether `tool` runs; without it the test fails under CI=true and is skipped otherwise.
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{tool} is not installed (apt-get install -y {tool})");
        }
        eprintln!("skipping: {tool} is not installed");
    }
    ok
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// A directory holding a busybox root: bin/busybox and bin/sh -> busybox.
fn busybox_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox")).expect("/bin/busybox (busybox-static)");
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    root
}

/// The image id `load` printed ("Loaded image ID: sha256:…") or the first tag.
fn loaded(out: &str) -> String {
    let line = out.lines().next().expect("load printed nothing");
    line.rsplit(' ').next().unwrap().to_string()
}

fn load_and_run(env: &Env, input: &Path, expect: &str) {
    let out = env.ok(&["load", "-q", "-i", input.to_str().unwrap()]);
    let image = loaded(&out);
    let said = env.ok(&["run", "--rm", &image]);
    assert_eq!(said.trim(), expect, "{input:?} ran as {image}");
}

/// `tar -cf out -C dir .`
fn tar_dir(dir: &Path, out: &Path) {
    run(Command::new("tar")
        .arg("-cf")
        .arg(out)
        .arg("-C")
        .arg(dir)
        .arg("."));
}

/// An OCI layout made by umoci: a repacked busybox root, then a dir inserted at `/` (a
/// layer whose first entry is `/`, written without its final padding) and one file.
fn umoci_layout(work: &Path) -> PathBuf {
    let lay = work.join("umoci-layout");
    let bundle = work.join("bundle");
    let umoci = |args: &[&str]| {
        run(Command::new("umoci").args(args).current_dir(work));
    };
    umoci(&["init", "--layout", lay.to_str().unwrap()]);
    let img = format!("{}:t", lay.display());
    umoci(&["new", "--image", &img]);
    umoci(&["unpack", "--image", &img, bundle.to_str().unwrap()]);
    let rootfs = bundle.join("rootfs");
    fs::create_dir_all(rootfs.join("bin")).unwrap();
    fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    umoci(&["repack", "--image", &img, bundle.to_str().unwrap()]);
    let extra = work.join("extra");
    fs::create_dir_all(extra.join("greet")).unwrap();
    fs::write(extra.join("greet/hello"), "hello from umoci\n").unwrap();
    umoci(&["insert", "--image", &img, extra.to_str().unwrap(), "/"]);
    umoci(&[
        "config",
        "--image",
        &img,
        "--config.cmd",
        "sh",
        "--config.cmd",
        "-c",
        "--config.cmd",
        "cat /greet/hello",
    ]);
    lay
}

/// The raw names of the tar entries of a (gzip) layer blob.
fn layer_names(blob: &Path) -> Vec<String> {
    let f = fs::File::open(blob).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut names = Vec::new();
    if let Ok(entries) = a.entries() {
        for e in entries {
            let Ok(e) = e else { break };
            names.push(String::from_utf8_lossy(&e.path_bytes()).into_owned());
        }
    }
    names
}

#[test]
fn umoci_layout_and_archive_load_and_run() {
    if !have("umoci") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let lay = umoci_layout(work.path());
    // The layer umoci wrote for the `/` insert starts with a "/" entry.
    let firsts: Vec<String> = fs::read_dir(lay.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .filter_map(|e| layer_names(&e.path()).into_iter().next())
        .collect();
    assert!(firsts.iter().any(|n| n == "/"), "no '/' entry: {firsts:?}");
    let env = Env::new();
    load_and_run(&env, &lay, "hello from umoci");
    // The same layout as an OCI archive.
    let tar = work.path().join("umoci.tar");
    tar_dir(&lay, &tar);
    let env = Env::new();
    load_and_run(&env, &tar, "hello from umoci");
}

#[test]
fn skopeo_docker_archive_of_a_umoci_image_loads_and_runs() {
    if !have("umoci") || !have("skopeo") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let lay = umoci_layout(work.path());
    let out = work.path().join("docker-save.tar");
    let tmp = work.path().join("skopeo-tmp");
    fs::create_dir_all(&tmp).unwrap();
    run(Command::new("skopeo")
        .env("TMPDIR", &tmp)
        .arg("--insecure-policy")
        .arg("copy")
        .arg(format!("oci:{}:t", lay.display()))
        .arg(format!("docker-archive:{}:umoci/test:1", out.display())));
    let env = Env::new();
    let said = env.ok(&["load", "-i", out.to_str().unwrap()]);
    assert!(said.contains("umoci/test:1"), "{said}");
    assert_eq!(
        env.ok(&["run", "--rm", "umoci/test:1"]).trim(),
        "hello from umoci"
    );
}

#[test]
fn buildah_archives_load_and_run() {
    if !have("buildah") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let policy = w.join("policy.json");
    fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let storage = w.join("storage");
    let runroot = w.join("runroot");
    let tmp = w.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    let buildah = |args: &[&str]| -> String {
        let out = run(Command::new("buildah")
            .env("TMPDIR", &tmp)
            .env("BUILDAH_ISOLATION", "chroot")
            .env("CONTAINERS_REGISTRIES_CONF", w.join("registries.conf"))
            .arg("--root")
            .arg(&storage)
            .arg("--runroot")
            .arg(&runroot)
            .arg("--storage-driver")
            .arg("vfs")
            .args(args));
        stdout(&out).trim().to_string()
    };
    fs::write(w.join("registries.conf"), "").unwrap();
    let rootfs = busybox_rootfs(w);
    let ctr = buildah(&[
        "from",
        "--signature-policy",
        policy.to_str().unwrap(),
        "scratch",
    ]);
    buildah(&["copy", &ctr, rootfs.to_str().unwrap(), "/"]);
    buildah(&[
        "config",
        "--cmd",
        r#"["/bin/sh", "-c", "echo hello from buildah"]"#,
        &ctr,
    ]);
    let policy_arg = policy.to_str().unwrap();
    let oci_tar = w.join("buildah-oci.tar");
    let docker_tar = w.join("buildah-docker.tar");
    buildah(&[
        "commit",
        "--signature-policy",
        policy_arg,
        &ctr,
        &format!("oci-archive:{}:buildah/test:1", oci_tar.display()),
    ]);
    buildah(&[
        "commit",
        "--signature-policy",
        policy_arg,
        &ctr,
        &format!("docker-archive:{}:buildah/test:2", docker_tar.display()),
    ]);
    let oci_dir = w.join("buildah-layout");
    buildah(&[
        "commit",
        "--signature-policy",
        policy_arg,
        &ctr,
        &format!("oci:{}:buildah/test:3", oci_dir.display()),
    ]);
    buildah(&["rm", &ctr]);
    let env = Env::new();
    env.ok(&["load", "-q", "-i", oci_dir.to_str().unwrap()]);
    let id = env.ok(&["images", "-q"]);
    let id = id.lines().next().expect("an image").to_string();
    assert_eq!(env.ok(&["run", "--rm", &id]).trim(), "hello from buildah");
    let env = Env::new();
    env.ok(&["load", "-q", "-i", oci_tar.to_str().unwrap()]);
    let id = env.ok(&["images", "-q"]);
    let id = id.lines().next().expect("an image").to_string();
    assert_eq!(env.ok(&["run", "--rm", &id]).trim(), "hello from buildah");
    let env = Env::new();
    let said = env.ok(&["load", "-i", docker_tar.to_str().unwrap()]);
    assert!(said.contains("buildah/test:2"), "{said}");
    assert_eq!(
        env.ok(&["run", "--rm", "buildah/test:2"]).trim(),
        "hello from buildah"
    );
    // buildah's vfs storage holds plain files; the temp dir goes with it.
}

// ---- hand-made layouts: what must still be refused ----

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A one-layer OCI layout whose layer is `layer` (an uncompressed tar).
fn layout_with_layer(dir: &Path, layer: &[u8]) -> PathBuf {
    let lay = dir.join("layout");
    let blobs = lay.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let h = sha(data);
        fs::write(blobs.join(&h), data).unwrap();
        h
    };
    let lh = put(layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{lh}")]},
    });
    let cb = serde_json::to_vec(&config).unwrap();
    let ch = put(&cb);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{ch}"), "size": cb.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": format!("sha256:{lh}"), "size": layer.len()}],
    });
    let mb = serde_json::to_vec(&manifest).unwrap();
    let mh = put(&mb);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": format!("sha256:{mh}"), "size": mb.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "hand/made:1"}}],
    });
    fs::write(lay.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(lay.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    lay
}

/// (name, kind, link target, data), names written raw (the tar crate would refuse some).
type Raw<'a> = (&'a str, tar::EntryType, &'a str, &'a [u8]);

fn raw_tar(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(if *kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn absolute_entries_land_inside_the_layer() {
    use tar::EntryType::*;
    let work = tempfile::tempdir().unwrap();
    let lay = layout_with_layer(
        work.path(),
        &raw_tar(&[
            ("/", Directory, "", b""),
            ("/etc/", Directory, "", b""),
            ("/etc/motd", Regular, "", b"inside\n"),
            ("/etc/motd2", Link, "/etc/motd", b""),
            ("/etc/../etc/motd3", Regular, "", b"clean\n"),
        ]),
    );
    let env = Env::new();
    env.ok(&["load", "-q", "-i", lay.to_str().unwrap()]);
    let layers: Vec<PathBuf> = fs::read_dir(env.root().join("overlay"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("diff").is_dir())
        .collect();
    assert_eq!(layers.len(), 1, "{layers:?}");
    let diff = layers[0].join("diff");
    assert_eq!(
        fs::read_to_string(diff.join("etc/motd")).unwrap(),
        "inside\n"
    );
    assert_eq!(
        fs::read_to_string(diff.join("etc/motd2")).unwrap(),
        "inside\n"
    );
    assert_eq!(
        fs::read_to_string(diff.join("etc/motd3")).unwrap(),
        "clean\n"
    );
}

#[test]
fn entries_and_links_out_of_the_layer_are_still_refused() {
    use tar::EntryType::*;
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().to_str().unwrap().to_string();
    let up = format!("../../../../../../../..{out}/x");
    let cases: Vec<(&str, Vec<Raw<'_>>)> = vec![
        ("../ entry", vec![("../x", Regular, "", b"x")]),
        ("/../ entry", vec![("/../x", Regular, "", b"x")]),
        ("climbing entry", vec![(up.as_str(), Regular, "", b"x")]),
        (
            "through a symlink",
            vec![
                ("l", Symlink, out.as_str(), b""),
                ("l/x", Regular, "", b"x"),
            ],
        ),
        ("hardlink up", vec![("h", Link, "../../etc/passwd", b"")]),
        (
            "hardlink through a symlink",
            vec![("l", Symlink, "/etc", b""), ("h", Link, "l/passwd", b"")],
        ),
    ];
    for (what, entries) in cases {
        let work = tempfile::tempdir().unwrap();
        let lay = layout_with_layer(work.path(), &raw_tar(&entries));
        let env = Env::new();
        let o = env.nsbox(&["load", "-q", "-i", lay.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{what} was accepted: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(err.contains("refusing"), "{what}: {err}");
        assert_eq!(env.ok(&["images", "-q"]), "", "{what}");
        assert!(!outside.path().join("x").exists(), "{what} wrote outside");
    }
}
