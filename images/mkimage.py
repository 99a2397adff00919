#!/usr/bin/env python3
"""Build the nsbox test image `busybox:latest` from Debian's busybox-static, reproducibly.

    python3 images/mkimage.py --out target/images

writes three encodings of the same image (same config, same diff_ids, same image id):

    busybox-oci/        OCI image layout (gzip layers)
    busybox-oci.tar     the same layout as one tar
    busybox-docker.tar  `docker save` format (manifest.json, uncompressed <id>/layer.tar)

Naming: index.json carries both `org.opencontainers.image.ref.name=latest` (what skopeo/umoci
use: `oci:busybox-oci:latest`) and `io.containerd.image.name=docker.io/library/busybox:latest`
(what `docker load` and `nsbox load` use to tag the image).

Reproducible: fixed mtimes (SOURCE_DATE_EPOCH, default 0), sorted entries, uid/gid 0 unless an
entry must belong to the test user, gzip mtime 0 and no file name, JSON with sorted keys.

Layers:
  1 (base)  /bin/busybox, one relative symlink per applet, /etc/passwd, /etc/group, /etc/motd,
            /etc/skel-demo/{a,b}, /tmp (1777), /root (0700), /home/app (1000:1000), empty
            /dev /proc /sys, /usr/bin /usr/sbin /sbin /var/tmp.
  2         adds /etc/nsbox-release, deletes /etc/motd (whiteout `etc/.wh.motd`), replaces
            /etc/skel-demo (opaque marker `etc/skel-demo/.wh..wh..opq` plus a new file `c`).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

BUSYBOX = "/bin/busybox"
NAME = "busybox"
TAG = "latest"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_INDEX = "application/vnd.oci.image.index.v1+json"

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    "app:x:1000:1000:app:/home/app:/bin/sh\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\napp:x:1000:\n"


def epoch():
    return int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


def jdump(obj):
    """Deterministic JSON bytes: the digests depend on them."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Layer:
    """An in-memory tar built from (path, kind, ...) entries, emitted sorted by path."""

    def __init__(self):
        self.entries = {}

    def dir(self, path, mode=0o755, uid=0, gid=0):
        self.entries[path] = ("dir", mode, uid, gid, None)

    def file(self, path, data, mode=0o644, uid=0, gid=0):
        if isinstance(data, str):
            data = data.encode()
        self.entries[path] = ("file", mode, uid, gid, data)

    def symlink(self, path, target):
        self.entries[path] = ("symlink", 0o777, 0, 0, target)

    def tar_bytes(self):
        buf = io.BytesIO()
        mtime = epoch()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
            # Sorted paths put every parent before its children (a parent is a prefix).
            for path in sorted(self.entries):
                kind, mode, uid, gid, payload = self.entries[path]
                ti = tarfile.TarInfo(path)
                ti.mtime = mtime
                ti.mode = mode
                ti.uid, ti.gid = uid, gid
                ti.uname = "root" if uid == 0 else ""
                ti.gname = "root" if gid == 0 else ""
                if kind == "dir":
                    ti.type = tarfile.DIRTYPE
                    tf.addfile(ti)
                elif kind == "file":
                    ti.size = len(payload)
                    tf.addfile(ti, io.BytesIO(payload))
                else:
                    ti.type = tarfile.SYMTYPE
                    ti.linkname = payload
                    tf.addfile(ti)
        return buf.getvalue()


def applets():
    out = subprocess.run([BUSYBOX, "--list-full"], check=True, capture_output=True, text=True)
    return sorted({line.strip().lstrip("/") for line in out.stdout.splitlines() if line.strip()})


def base_layer():
    l = Layer()
    for d in ["bin", "dev", "etc", "etc/skel-demo", "home", "proc", "sbin", "sys", "usr",
              "usr/bin", "usr/sbin", "var"]:
        l.dir(d)
    l.dir("tmp", 0o1777)
    l.dir("var/tmp", 0o1777)
    l.dir("root", 0o700)
    l.dir("home/app", 0o755, 1000, 1000)
    with open(BUSYBOX, "rb") as f:
        l.file("bin/busybox", f.read(), 0o755)
    for applet in applets():
        if applet == "bin/busybox":
            continue
        parent = posixpath.dirname(applet)
        if parent and parent not in l.entries:
            l.dir(parent)
        # Relative targets resolve inside any root (the container's, or a layer dir on the host).
        l.symlink(applet, posixpath.relpath("bin/busybox", parent or "."))
    l.file("etc/passwd", PASSWD)
    l.file("etc/group", GROUP)
    l.file("etc/motd", "Welcome to nsbox busybox.\n")
    l.file("etc/skel-demo/a", "a\n")
    l.file("etc/skel-demo/b", "b\n")
    return l


def top_layer():
    l = Layer()
    l.dir("etc")
    l.file("etc/nsbox-release", "NAME=nsbox-busybox\nVERSION=1\n")
    l.file("etc/.wh.motd", b"")
    l.dir("etc/skel-demo")
    l.file("etc/skel-demo/.wh..wh..opq", b"")
    l.file("etc/skel-demo/c", "c\n")
    return l


def rfc3339(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def build_image():
    """Returns (config bytes, [(tar bytes, gzip bytes)], manifest bytes)."""
    layers = []
    for l in (base_layer(), top_layer()):
        raw = l.tar_bytes()
        layers.append((raw, gzip.compress(raw, compresslevel=9, mtime=0)))
    created = rfc3339(epoch())
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha256(raw) for raw, _ in layers]},
        "history": [
            {"created": created, "created_by": "mkimage.py: busybox-static, applets, /etc"},
            {"created": created, "created_by": "mkimage.py: add nsbox-release, whiteout motd, opaque skel-demo"},
        ],
    }
    config_bytes = jdump(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": "sha256:" + sha256(config_bytes),
                   "size": len(config_bytes)},
        "layers": [{"mediaType": MT_LAYER_GZ, "digest": "sha256:" + sha256(gz), "size": len(gz)}
                   for _, gz in layers],
    }
    return config_bytes, layers, jdump(manifest)


def oci_files(config_bytes, layers, manifest_bytes):
    """The OCI layout as {relative path: bytes}."""
    files = {"oci-layout": jdump({"imageLayoutVersion": "1.0.0"})}
    for blob in [config_bytes, manifest_bytes] + [gz for _, gz in layers]:
        files["blobs/sha256/" + sha256(blob)] = blob
    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [{
            "mediaType": MT_MANIFEST,
            "digest": "sha256:" + sha256(manifest_bytes),
            "size": len(manifest_bytes),
            "annotations": {
                "io.containerd.image.name": "docker.io/library/%s:%s" % (NAME, TAG),
                "org.opencontainers.image.ref.name": TAG,
            },
        }],
    }
    files["index.json"] = jdump(index)
    return files


def docker_files(config_bytes, layers):
    """`docker save` (legacy layout): manifest.json, <config hex>.json, <diff hex>/layer.tar."""
    config_hex = sha256(config_bytes)
    files = {config_hex + ".json": config_bytes}
    layer_paths = []
    for raw, _ in layers:
        p = sha256(raw) + "/layer.tar"
        files[p] = raw
        files[sha256(raw) + "/VERSION"] = b"1.0"
        layer_paths.append(p)
    files["manifest.json"] = jdump([{"Config": config_hex + ".json",
                                     "RepoTags": ["%s:%s" % (NAME, TAG)],
                                     "Layers": layer_paths}])
    files["repositories"] = jdump({NAME: {TAG: layer_paths[-1].split("/")[0]}})
    return files


def write_tar(path, files):
    """A tar of {path: bytes}, with its directories, deterministic."""
    names = set(files)
    dirs = set()
    for n in names:
        d = posixpath.dirname(n)
        while d:
            dirs.add(d)
            d = posixpath.dirname(d)
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tf:
        for n in sorted(names | dirs):
            ti = tarfile.TarInfo(n)
            ti.mtime = epoch()
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            if n in dirs:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            else:
                ti.mode = 0o644
                ti.size = len(files[n])
                tf.addfile(ti, io.BytesIO(files[n]))


def write_dir(root, files):
    for n in sorted(files):
        p = os.path.join(root, n)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(files[n])
        os.utime(p, (epoch(), epoch()))


def replace(tmp_path, final_path):
    """Swap in a finished output; the old one (if any) goes only once the new one is ready."""
    if os.path.isdir(final_path) and not os.path.islink(final_path):
        old = final_path + ".old"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(final_path, old)
        os.rename(tmp_path, final_path)
        shutil.rmtree(old)
    else:
        os.replace(tmp_path, final_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output directory (e.g. target/images)")
    args = ap.parse_args()
    if not os.access(BUSYBOX, os.X_OK):
        sys.exit("mkimage: %s not found: apt-get install busybox-static" % BUSYBOX)

    config_bytes, layers, manifest_bytes = build_image()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mkimage-", dir=args.out) as tmp:
        oci = oci_files(config_bytes, layers, manifest_bytes)
        write_dir(os.path.join(tmp, "busybox-oci"), oci)
        write_tar(os.path.join(tmp, "busybox-oci.tar"), oci)
        write_tar(os.path.join(tmp, "busybox-docker.tar"), docker_files(config_bytes, layers))
        for name in ["busybox-oci", "busybox-oci.tar", "busybox-docker.tar"]:
            replace(os.path.join(tmp, name), os.path.join(args.out, name))
    print("busybox:latest sha256:%s -> %s" % (sha256(config_bytes), args.out))


if __name__ == "__main__":
    main()
