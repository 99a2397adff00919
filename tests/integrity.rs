//! Every blob is checked on every load: a corrupt gzip, a truncated blob or a blob whose
//! bytes are not its digest is refused (exit 1, one line) and nothing of it is stored, also
//! when its layer is unpacked already. Bad input is described, never echoed.

mod common;

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A private copy of the busybox OCI layout.
fn layout_copy(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let dst = dir.join("layout");
    let st = Command::new("cp")
        .arg("-a")
        .arg(images_dir().join("busybox-oci"))
        .arg(&dst)
        .status()
        .unwrap();
    assert!(st.success());
    dst
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// The manifest of the layout's only image and the path of its largest layer blob.
fn manifest_and_big_layer(layout: &Path) -> (Value, PathBuf, usize) {
    let index = read_json(&layout.join("index.json"));
    let m = read_json(&blob(
        layout,
        index["manifests"][0]["digest"].as_str().unwrap(),
    ));
    let layers = m["layers"].as_array().unwrap();
    let (i, l) = layers
        .iter()
        .enumerate()
        .max_by_key(|(_, l)| l["size"].as_u64().unwrap())
        .unwrap();
    let p = blob(layout, l["digest"].as_str().unwrap());
    (m, p, i)
}

/// Replace layer `i` by `bytes` with every digest made consistent (manifest and index
/// rewritten), so that only what is inside the blob can be wrong.
fn replace_layer_consistently(layout: &Path, bytes: &[u8]) {
    let (mut m, old, i) = manifest_and_big_layer(layout);
    fs::remove_file(&old).unwrap();
    let hex = sha(bytes);
    fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    m["layers"][i]["digest"] = format!("sha256:{hex}").into();
    m["layers"][i]["size"] = bytes.len().into();
    let mbytes = serde_json::to_vec(&m).unwrap();
    let mhex = sha(&mbytes);
    fs::write(layout.join("blobs/sha256").join(&mhex), &mbytes).unwrap();
    let mut index = read_json(&layout.join("index.json"));
    index["manifests"][0]["digest"] = format!("sha256:{mhex}").into();
    index["manifests"][0]["size"] = mbytes.len().into();
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}

/// Every file and dir of the data root except the lock and scratch entries of live
/// processes (there are none after a command exits).
fn snapshot(root: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            // Inside a layer dir only its presence matters (and it is large).
            let top_layer = rel.starts_with("overlay/") && rel.matches('/').count() >= 1;
            out.insert(rel);
            if e.file_type().unwrap().is_dir() && !top_layer {
                walk(base, &p, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out.remove("images/lock");
    out
}

/// A refused load: exit 1, one line on stderr starting "nsbox: ", nothing on stdout.
fn assert_refused(out: &std::process::Output, what: &str) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: not one line: {err:?}");
    assert!(err.starts_with("nsbox: "), "{what}: {err}");
    assert!(stdout(out).is_empty(), "{what}: {}", stdout(out));
    err
}

fn load(env: &Env, path: &Path) -> std::process::Output {
    env.nsbox(&["load", "-q", "-i", path.to_str().unwrap()])
}

/// An empty data root after a refused load: no image, no blob, no layer, no scratch.
fn assert_nothing_stored(env: &Env) {
    assert_eq!(env.ok(&["images", "-q"]), "");
    let root = env.root();
    for d in ["images/blobs/sha256", "images/db", "tmp"] {
        let left: Vec<_> = fs::read_dir(root.join(d))
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{d} holds {left:?}");
    }
    let layers: Vec<_> = fs::read_dir(root.join("overlay"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name())
                .filter(|n| n != "l")
                .collect()
        })
        .unwrap_or_default();
    assert!(layers.is_empty(), "overlay holds {layers:?}");
}

/// The three kinds of damage to the big layer blob of a layout.
fn damaged_layouts(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let mut out = Vec::new();
    // A gzip stream with flipped bytes in the middle; every digest names the damaged bytes.
    let l = layout_copy(&dir.join("gzip"));
    let (_, p, _) = manifest_and_big_layer(&l);
    let mut bytes = fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    replace_layer_consistently(&l, &bytes);
    out.push(("corrupt gzip", l));
    // Truncated to half, under its old name.
    let l = layout_copy(&dir.join("trunc"));
    let (_, p, _) = manifest_and_big_layer(&l);
    let bytes = fs::read(&p).unwrap();
    fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    out.push(("truncated blob", l));
    // Valid gzip, wrong bytes: the other layer's content under the big layer's name.
    let l = layout_copy(&dir.join("wrong"));
    let (m, p, i) = manifest_and_big_layer(&l);
    let other = &m["layers"][1 - i]["digest"];
    fs::copy(blob(&l, other.as_str().unwrap()), &p).unwrap();
    out.push(("wrong digest", l));
    out
}

#[test]
fn damaged_layer_blobs_are_refused_and_nothing_is_stored() {
    let work = tempfile::tempdir().unwrap();
    for (what, layout) in damaged_layouts(work.path()) {
        let env = Env::new();
        let out = load(&env, &layout);
        let err = assert_refused(&out, what);
        eprintln!("{what}: {err}");
        assert_nothing_stored(&env);
    }
}

#[test]
fn damaged_blob_of_an_unpacked_layer_is_refused_too() {
    let work = tempfile::tempdir().unwrap();
    let env = Env::with_busybox();
    let before = snapshot(env.root());
    for (what, layout) in damaged_layouts(work.path()) {
        let out = load(&env, &layout);
        assert_refused(&out, what);
        assert_eq!(
            snapshot(env.root()),
            before,
            "{what}: the data root changed"
        );
    }
    // And `save` still exports the good image, which loads into a fresh root.
    let saved = work.path().join("saved.tar");
    env.ok(&["save", "-o", saved.to_str().unwrap(), "busybox"]);
    let fresh = Env::new();
    fresh.ok(&["load", "-q", "-i", saved.to_str().unwrap()]);
}

#[test]
fn truncated_docker_save_layer_of_an_unpacked_layer_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let x = work.path().join("x");
    fs::create_dir(&x).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(images_dir().join("busybox-docker.tar"))
        .arg("-C")
        .arg(&x)
        .status()
        .unwrap();
    assert!(st.success());
    let manifest = read_json(&x.join("manifest.json"));
    let layer = x.join(manifest[0]["Layers"][0].as_str().unwrap());
    let bytes = fs::read(&layer).unwrap();
    fs::write(&layer, &bytes[..bytes.len() / 2]).unwrap();
    let tar = work.path().join("bad.tar");
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&x)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let env = Env::with_busybox();
    let before = snapshot(env.root());
    assert_refused(&load(&env, &tar), "truncated layer.tar");
    assert_eq!(snapshot(env.root()), before);
    let fresh = Env::new();
    assert_refused(&load(&fresh, &tar), "truncated layer.tar, fresh root");
    assert_nothing_stored(&fresh);
}

#[test]
fn load_of_a_text_or_binary_file_says_what_is_wrong_without_echoing_it() {
    let work = tempfile::tempdir().unwrap();
    let text = work.path().join("passwd");
    fs::write(
        &text,
        "root:x:0:0:SECRET-LINE:/root:/bin/sh\n"
            .repeat(40)
            .as_bytes(),
    )
    .unwrap();
    let bin = work.path().join("bin");
    let mut bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    bytes[100..112].copy_from_slice(b"SECRET-BYTES");
    fs::write(&bin, &bytes).unwrap();
    let gz = work.path().join("bad.tar.gz");
    // A gzip header, then garbage.
    let mut g = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    g.extend_from_slice(&bytes);
    fs::write(&gz, &g).unwrap();
    let env = Env::new();
    for p in [&text, &bin, &gz, Path::new("/etc/passwd")] {
        let out = load(&env, p);
        let err = assert_refused(&out, &p.display().to_string());
        eprintln!("{err}");
        assert!(!err.contains("SECRET"), "{err}");
        assert!(!err.contains("root:x"), "{err}");
        assert!(
            err.trim_end()
                .chars()
                .all(|c| !c.is_control() && c != '\u{fffd}'),
            "raw bytes in {err:?}"
        );
        assert!(
            err.contains("not a tar archive") || err.contains("corrupt gzip"),
            "{err}"
        );
    }
    assert_nothing_stored(&env);
}
