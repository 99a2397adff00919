//! Image store: the three archive formats, listing, inspect, rmi, import, whiteouts, and
//! hostile archives that must be refused without leaving anything behind.
mod common;

use common::{images_dir, stderr, stdout, Env};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use tar::EntryType;

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn inspect(env: &Env, reference: &str) -> Value {
    let out = env.ok(&["image", "inspect", reference]);
    let v: Value = serde_json::from_str(&out).expect("inspect output is JSON");
    v[0].clone()
}

fn dir_entries(p: &Path) -> Vec<String> {
    fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Nothing half-loaded: no temp files, no records, no tags, no layer dirs.
fn assert_store_clean(env: &Env) {
    let root = env.root();
    assert_eq!(
        dir_entries(&root.join("tmp")),
        Vec::<String>::new(),
        "tmp not empty"
    );
    assert_eq!(
        dir_entries(&root.join("images/db")),
        Vec::<String>::new(),
        "image record left"
    );
    assert_eq!(
        dir_entries(&root.join("overlay")),
        Vec::<String>::new(),
        "layer dir left"
    );
    assert_eq!(env.ok(&["images", "-q"]), "");
}

/// Exit 125 with one line on stderr.
fn assert_fails(env: &Env, args: &[&str]) -> String {
    assert_fails_with(env, args, 125)
}

/// Exit `code` with one line on stderr.
fn assert_fails_with(env: &Env, args: &[&str], code: i32) -> String {
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

// ---- building archives -------------------------------------------------------------------

/// A layer tar with raw names (the tar crate's path setters refuse `..` and absolute paths).
fn raw_tar(entries: &[(&str, EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        h.set_mode(if *kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One layer as it goes into an archive: the stored bytes, the digest it is declared under,
/// and the diff_id the config claims.
struct Layer {
    blob: Vec<u8>,
    digest_hex: String,
    diff_hex: String,
}

fn gz_layer(tar: Vec<u8>) -> Layer {
    let blob = gzip(&tar);
    Layer {
        digest_hex: sha(&blob),
        diff_hex: sha(&tar),
        blob,
    }
}

fn config_for(layers: &[Layer]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| format!("sha256:{}", l.diff_hex)).collect::<Vec<_>>()},
    }))
    .unwrap()
}

fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// An OCI archive named `hostile:latest` holding these layers.
fn oci_archive(dir: &Path, layers: &[Layer]) -> PathBuf {
    let config = config_for(layers);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha(&config)), "size": config.len()},
        "layers": layers.iter().map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{}", l.digest_hex), "size": l.blob.len()})).collect::<Vec<_>>(),
    }))
    .unwrap();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", sha(&manifest)), "size": manifest.len(),
                       "annotations": {"io.containerd.image.name": "docker.io/library/hostile:latest"}}],
    }))
    .unwrap();
    let mut files = vec![
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".to_string(), index),
        (format!("blobs/sha256/{}", sha(&config)), config),
        (format!("blobs/sha256/{}", sha(&manifest)), manifest),
    ];
    for l in layers {
        files.push((format!("blobs/sha256/{}", l.digest_hex), l.blob.clone()));
    }
    let path = dir.join("image.tar");
    fs::write(&path, tar_of(&files)).unwrap();
    path
}

/// A refused load: exit 1 as docker load, one line, nothing stored.
fn load_fails(env: &Env, archive: &Path) -> String {
    let err = assert_fails_with(env, &["load", "-q", "-i", archive.to_str().unwrap()], 1);
    assert_store_clean(env);
    err
}

// ---- the test image ----------------------------------------------------------------------

#[test]
fn three_formats_load_to_the_same_image() {
    let mut ids = Vec::new();
    for f in ["busybox-oci", "busybox-oci.tar", "busybox-docker.tar"] {
        let env = Env::new();
        let p = images_dir().join(f);
        let out = env.ok(&["load", "-i", p.to_str().unwrap()]);
        assert_eq!(out, "Loaded image: busybox:latest\n", "{f}");
        ids.push(inspect(&env, "busybox")["Id"].as_str().unwrap().to_string());
        assert!(dir_entries(&env.root().join("tmp")).is_empty());
    }
    assert!(ids[0].starts_with("sha256:") && ids[0].len() == 71);
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");

    // All three into one store: one image, layers unpacked once.
    let env = Env::new();
    for f in ["busybox-oci", "busybox-oci.tar", "busybox-docker.tar"] {
        env.ok(&["load", "-q", "-i", images_dir().join(f).to_str().unwrap()]);
    }
    assert_eq!(env.ok(&["images", "-q"]).lines().count(), 1);
    assert_eq!(dir_entries(&env.root().join("overlay")).len(), 2);
}

#[test]
fn loads_gzipped_docker_save_and_sweeps_stale_temp() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("busybox.tar.gz");
    fs::write(
        &p,
        gzip(&fs::read(images_dir().join("busybox-docker.tar")).unwrap()),
    )
    .unwrap();
    // A crashed loader's leftovers (pid 999999999 does not exist) go on the next open.
    let stale = env.root().join("tmp/999999999-1-layer-0");
    fs::create_dir_all(stale.join("diff")).unwrap();
    let out = env.ok(&["load", "-i", p.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: busybox:latest\n");
    assert!(dir_entries(&env.root().join("tmp")).is_empty());
}

#[test]
fn images_lists_and_resolves_references() {
    let env = Env::with_busybox();
    let out = env.ok(&["images"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for col in ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(lines[0].contains(col), "{out}");
    }
    let cols: Vec<&str> = lines[1]
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(cols[0], "busybox");
    assert_eq!(cols[1], "latest");
    assert_eq!(cols[2].len(), 12);
    assert!(cols[3].ends_with("ago"), "{out}");
    assert!(cols[4].ends_with("MB"), "{out}");
    // Header columns line up with the values.
    assert_eq!(lines[0].find("TAG"), lines[1].find("latest"));

    let id = inspect(&env, "busybox")["Id"].as_str().unwrap().to_string();
    let hex = id.trim_start_matches("sha256:");
    for r in [
        "busybox:latest",
        "docker.io/library/busybox:latest",
        &id,
        hex,
        &hex[..12],
        &hex[..3],
    ] {
        assert_eq!(inspect(&env, r)["Id"], id.as_str(), "{r}");
    }
    assert_eq!(env.ok(&["image", "ls", "-q"]).trim(), &hex[..12]);
}

#[test]
fn inspect_shows_the_config() {
    let env = Env::with_busybox();
    let v = inspect(&env, "busybox");
    assert_eq!(v["Config"]["Cmd"], json!(["sh"]));
    assert_eq!(
        v["Config"]["Env"],
        json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    );
    assert_eq!(v["Config"]["WorkingDir"], "/");
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["RepoTags"], json!(["busybox:latest"]));
    assert_eq!(v["RootFS"]["Type"], "layers");
    assert_eq!(v["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    assert!(v["Size"].as_u64().unwrap() > 1_000_000);
}

fn layer_diff(env: &Env, v: &Value, i: usize) -> PathBuf {
    let d = v["RootFS"]["Layers"][i]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    env.root().join("overlay").join(d).join("diff")
}

fn lgetxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = [0u8; 64];
    // SAFETY: valid C strings and a writable buffer of the given length.
    let rc = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (rc >= 0).then(|| buf[..rc as usize].to_vec())
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let env = Env::with_busybox();
    let v = inspect(&env, "busybox");
    let base = layer_diff(&env, &v, 0);
    let top = layer_diff(&env, &v, 1);
    // Base layer: busybox, applets as relative symlinks, modes and owners kept.
    assert!(base.join("bin/busybox").is_file());
    assert_eq!(
        fs::read_link(base.join("bin/sh")).unwrap(),
        PathBuf::from("busybox")
    );
    assert_eq!(
        fs::symlink_metadata(base.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    assert_eq!(
        fs::symlink_metadata(base.join("root")).unwrap().mode() & 0o7777,
        0o700
    );
    assert_eq!(
        fs::symlink_metadata(base.join("home/app")).unwrap().uid(),
        1000
    );
    assert!(base.join("etc/motd").is_file());
    // Top layer: whiteout char device 0/0, opaque dir, no .wh. files.
    let motd = fs::symlink_metadata(top.join("etc/motd")).unwrap();
    assert!(motd.file_type().is_char_device());
    assert_eq!(motd.rdev(), 0);
    assert_eq!(
        lgetxattr(&top.join("etc/skel-demo"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(top.join("etc/skel-demo/c").is_file());
    assert!(top.join("etc/nsbox-release").is_file());
    assert!(!top.join("etc/.wh.motd").exists());
    assert!(!top.join("etc/skel-demo/.wh..wh..opq").exists());
}

#[test]
fn rmi_removes_image_and_layers() {
    let env = Env::with_busybox();
    let id = inspect(&env, "busybox")["Id"].as_str().unwrap().to_string();
    let out = env.ok(&["rmi", "busybox"]);
    assert_eq!(out, format!("Untagged: busybox:latest\nDeleted: {id}\n"));
    assert_store_clean(&env);
    assert!(dir_entries(&env.root().join("images/blobs/sha256")).is_empty());
    let err = assert_fails(&env, &["rmi", "busybox"]);
    assert!(err.contains("No such image: busybox"), "{err}");
}

#[test]
fn rmi_of_one_tag_keeps_the_image() {
    let env = Env::with_busybox();
    let dir = tempfile::tempdir().unwrap();
    // The same image under a second name, via a docker-save tar with another RepoTag.
    let src = fs::read(images_dir().join("busybox-docker.tar")).unwrap();
    let mut files = Vec::new();
    for e in tar::Archive::new(&src[..]).entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() != EntryType::Regular {
            continue;
        }
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        if name == "manifest.json" {
            data = String::from_utf8(data)
                .unwrap()
                .replace("busybox:latest", "other:v2")
                .into_bytes();
        }
        files.push((name, data));
    }
    let p = dir.path().join("other.tar");
    fs::write(&p, tar_of(&files)).unwrap();
    assert_eq!(
        env.ok(&["load", "-i", p.to_str().unwrap()]),
        "Loaded image: other:v2\n"
    );
    let id = inspect(&env, "other:v2")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    // By id with two tags: refused without -f.
    assert_fails(&env, &["rmi", &id]);
    assert_eq!(env.ok(&["rmi", "other:v2"]), "Untagged: other:v2\n");
    assert_eq!(env.ok(&["images", "-q"]).lines().count(), 1);
    assert_eq!(
        env.ok(&["image", "rm", "-f", &id[7..19]]),
        format!("Untagged: busybox:latest\nDeleted: {id}\n")
    );
    assert_store_clean(&env);
}

#[test]
fn import_rootfs_tar_and_tar_gz() {
    let dir = tempfile::tempdir().unwrap();
    let tar = raw_tar(&[
        ("./", EntryType::Directory, "", b""),
        ("./etc/", EntryType::Directory, "", b""),
        ("./etc/hello", EntryType::Regular, "", b"hello\n"),
        ("./bin", EntryType::Symlink, "usr/bin", b""),
    ]);
    let plain = dir.path().join("rootfs.tar");
    let gz = dir.path().join("rootfs.tar.gz");
    fs::write(&plain, &tar).unwrap();
    fs::write(&gz, gzip(&tar)).unwrap();
    let env = Env::new();
    for (file, name) in [(&plain, "mine"), (&gz, "mine:gz")] {
        let out = env.ok(&["import", file.to_str().unwrap(), name]);
        assert!(out.trim().starts_with("sha256:"), "{out}");
    }
    let v = inspect(&env, "mine:latest");
    assert_eq!(
        v["RootFS"]["Layers"],
        json!([format!("sha256:{}", sha(&tar))])
    );
    assert_eq!(v["Config"]["Cmd"], Value::Null);
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Size"], 6);
    let diff = layer_diff(&env, &v, 0);
    assert_eq!(fs::read(diff.join("etc/hello")).unwrap(), b"hello\n");
    assert_eq!(
        fs::read_link(diff.join("bin")).unwrap(),
        PathBuf::from("usr/bin")
    );
    // Same layer, shared.
    assert_eq!(inspect(&env, "mine:gz")["RootFS"], v["RootFS"]);
    assert_eq!(dir_entries(&env.root().join("overlay")).len(), 1);
    assert_fails(&env, &["import", plain.to_str().unwrap(), "Bad Name"]);
}

#[test]
fn mkimage_is_reproducible() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/mkimage.py");
    let mut sums = Vec::new();
    for _ in 0..2 {
        let out = tempfile::tempdir().unwrap();
        let st = std::process::Command::new("python3")
            .arg(&script)
            .arg("--out")
            .arg(out.path())
            .env_remove("SOURCE_DATE_EPOCH")
            .output()
            .unwrap();
        assert!(st.status.success(), "{}", stderr(&st));
        let mut s = Vec::new();
        for f in [
            "busybox-oci.tar",
            "busybox-docker.tar",
            "busybox-oci/index.json",
        ] {
            s.push(sha(&fs::read(out.path().join(f)).unwrap()));
        }
        sums.push(s);
    }
    assert_eq!(sums[0], sums[1]);
}

// ---- hostile and broken inputs -----------------------------------------------------------

#[test]
fn refuses_bad_blob_digest() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let mut l = gz_layer(raw_tar(&[("a", EntryType::Regular, "", b"a")]));
    l.blob = gzip(&raw_tar(&[("a", EntryType::Regular, "", b"b")]));
    let err = load_fails(&env, &oci_archive(dir.path(), &[l]));
    assert!(err.contains("digest mismatch"), "{err}");
}

#[test]
fn refuses_bad_diff_id() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let mut l = gz_layer(raw_tar(&[("a", EntryType::Regular, "", b"a")]));
    l.diff_hex = sha(b"something else");
    let err = load_fails(&env, &oci_archive(dir.path(), &[l]));
    assert!(err.contains("digest mismatch"), "{err}");
}

#[test]
fn refuses_truncated_gzip() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let tar = raw_tar(&[("a", EntryType::Regular, "", &[7u8; 4096])]);
    let mut blob = gzip(&tar);
    blob.truncate(blob.len() / 2);
    let l = Layer {
        digest_hex: sha(&blob),
        diff_hex: sha(&tar),
        blob,
    };
    load_fails(&env, &oci_archive(dir.path(), &[l]));
}

#[test]
fn refuses_dotdot_entry() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let l = gz_layer(raw_tar(&[(
        "../../../../escaped",
        EntryType::Regular,
        "",
        b"x",
    )]));
    let err = load_fails(&env, &oci_archive(dir.path(), &[l]));
    assert!(err.contains(".."), "{err}");
}

#[test]
fn absolute_entry_is_relative_to_the_layer_root() {
    // Docker, containerd and podman read "/x/y" in a layer as "x/y" below the layer root.
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("abs-escape");
    let l = gz_layer(raw_tar(&[(
        target.to_str().unwrap(),
        EntryType::Regular,
        "",
        b"x",
    )]));
    let diff = l.diff_hex.clone();
    env.ok(&[
        "load",
        "-q",
        "-i",
        oci_archive(dir.path(), &[l]).to_str().unwrap(),
    ]);
    assert!(!target.exists());
    let inside = env
        .root()
        .join("overlay")
        .join(diff)
        .join("diff")
        .join(target.strip_prefix("/").unwrap());
    assert_eq!(fs::read(inside).unwrap(), b"x");
}

#[test]
fn refuses_write_through_symlink() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let l = gz_layer(raw_tar(&[
        (
            "link",
            EntryType::Symlink,
            outside.path().to_str().unwrap(),
            b"",
        ),
        ("link/pwned", EntryType::Regular, "", b"x"),
    ]));
    let err = load_fails(&env, &oci_archive(dir.path(), &[l]));
    assert!(err.contains("symlink"), "{err}");
    assert!(!outside.path().join("pwned").exists());
    // Same through a relative symlink that climbs out.
    let l = gz_layer(raw_tar(&[
        ("up", EntryType::Symlink, "../../../../../../../../tmp", b""),
        ("up/nsbox-pwned-rel", EntryType::Regular, "", b"x"),
    ]));
    load_fails(&env, &oci_archive(dir.path(), &[l]));
    assert!(!Path::new("/tmp/nsbox-pwned-rel").exists());
}

#[test]
fn file_replaces_symlink_instead_of_writing_through() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    let l = gz_layer(raw_tar(&[
        ("f", EntryType::Symlink, victim.to_str().unwrap(), b""),
        ("f", EntryType::Regular, "", b"mine"),
    ]));
    env.ok(&[
        "load",
        "-q",
        "-i",
        oci_archive(dir.path(), &[l]).to_str().unwrap(),
    ]);
    assert!(!victim.exists());
    let v = inspect(&env, "hostile");
    assert_eq!(
        fs::read(layer_diff(&env, &v, 0).join("f")).unwrap(),
        b"mine"
    );
}

#[test]
fn refuses_hardlink_outside() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    fs::write(&secret, "s").unwrap();
    for layer in [
        raw_tar(&[("h", EntryType::Link, secret.to_str().unwrap(), b"")]),
        raw_tar(&[("h", EntryType::Link, "../../../../../../etc/passwd", b"")]),
        raw_tar(&[
            (
                "l",
                EntryType::Symlink,
                outside.path().to_str().unwrap(),
                b"",
            ),
            ("h", EntryType::Link, "l/secret", b""),
        ]),
    ] {
        let err = load_fails(&env, &oci_archive(dir.path(), &[gz_layer(layer)]));
        assert!(err.contains("hardlink"), "{err}");
    }
    assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1);
}

#[test]
fn refuses_archive_without_manifest_or_index() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.tar");
    fs::write(&p, tar_of(&[("oci-layout".into(), b"{}".to_vec())])).unwrap();
    let err = load_fails(&env, &p);
    assert!(err.contains("manifest.json"), "{err}");
    // An index naming a manifest blob that is not there.
    let idx = json!({"schemaVersion": 2, "manifests": [{"digest": format!("sha256:{}", sha(b"x")), "size": 1}]});
    fs::write(
        &p,
        tar_of(&[("index.json".into(), serde_json::to_vec(&idx).unwrap())]),
    )
    .unwrap();
    load_fails(&env, &p);
    // Not a tar at all; not there at all.
    fs::write(&p, b"garbage").unwrap();
    load_fails(&env, &p);
    load_fails(&env, &dir.path().join("missing.tar"));
}

#[test]
fn refuses_docker_save_with_wrong_diff_id() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let tar = raw_tar(&[("a", EntryType::Regular, "", b"a")]);
    let l = Layer {
        blob: tar.clone(),
        digest_hex: sha(&tar),
        diff_hex: sha(b"not it"),
    };
    let config = config_for(&[l]);
    let manifest = json!([{"Config": format!("{}.json", sha(&config)), "RepoTags": ["bad:1"], "Layers": ["x/layer.tar"]}]);
    let p = dir.path().join("save.tar");
    fs::write(
        &p,
        tar_of(&[
            (
                "manifest.json".into(),
                serde_json::to_vec(&manifest).unwrap(),
            ),
            (format!("{}.json", sha(&config)), config),
            ("x/layer.tar".into(), tar),
        ]),
    )
    .unwrap();
    let err = load_fails(&env, &p);
    assert!(err.contains("digest mismatch"), "{err}");
}

#[test]
fn unknown_image_and_bad_flags() {
    let env = Env::new();
    for args in [
        &["image", "inspect", "nope"][..],
        &["rmi", "nope"],
        &["image", "rm", "nope"],
    ] {
        let err = assert_fails(&env, args);
        assert!(err.contains("No such image: nope"), "{err}");
    }
    // clap's usage text follows its error line; the exit code is the contract here.
    for args in [&["load", "--bogus"][..], &["images", "--bogus"], &["load"]] {
        let out = env.nsbox(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(stderr(&out).starts_with("error:"), "{}", stderr(&out));
    }
}

#[test]
fn rmi_refuses_an_image_a_container_uses() {
    let env = Env::with_busybox();
    let id = inspect(&env, "busybox")["Id"].as_str().unwrap().to_string();
    let c = env.root().join("containers/abc");
    fs::create_dir_all(&c).unwrap();
    fs::write(c.join("config.json"), json!({"Image": id}).to_string()).unwrap();
    let err = assert_fails(&env, &["rmi", "busybox"]);
    assert!(err.contains("being used by a container"), "{err}");
    // Forced: untag only, the layers stay for the container.
    assert_eq!(
        env.ok(&["rmi", "-f", "busybox"]),
        "Untagged: busybox:latest\n"
    );
    assert_eq!(inspect(&env, &id)["Id"], id.as_str());
    assert_eq!(dir_entries(&env.root().join("overlay")).len(), 2);
    fs::remove_dir_all(&c).unwrap();
    assert_eq!(env.ok(&["rmi", &id]), format!("Deleted: {id}\n"));
    assert_store_clean(&env);
}
