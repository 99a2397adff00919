#!/bin/bash
# benches/run.sh — side-by-side container startup benchmark: nsbox vs crun vs runc.
#
# `make bench` runs it after building target/release/nsbox and target/images. Rows, each timed
# BENCH_N times (default 20), `/bin/true` in busybox:
#   nsbox-image   nsbox --root R run --rm busybox /bin/true   (after nsbox load of busybox-oci.tar)
#   nsbox-bundle  nsbox --root R run --bundle B --name bench-<i>
#   crun          crun run -b B bench-crun-<i>   (inside the wrapper below, then crun delete -f)
#   runc          runc run -b B bench-runc-<i>   (then runc delete -f)
# B is an OCI bundle from `runc spec` (default namespaces kept; args /bin/true; terminal false)
# whose rootfs is Debian's static busybox with an applet symlink farm.
# crun refuses this machine's hybrid cgroups unless the cgroup2 mount is hidden, so it runs as
#   unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /sys/fs/cgroup/unified && exec crun ...'
# (the tmpfs exists only in that private mount namespace). The wrapper's own cost
# (`unshare -m --propagation private sh -c 'mount ...; exec true'`) is measured as its own row and
# subtracted in the `net` column; ratios use `net`. Where the cgroup2 mount is not hybrid (or
# crun works plainly) no wrapper is used. A row whose command fails prints n/a.
# Peak RSS (KiB, /usr/bin/time -f %M, one extra run) if /usr/bin/time exists.
# Env: BENCH_N, NSBOX (binary), BENCH_IMAGES (dir with busybox-oci.tar). Root only.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
N=${BENCH_N:-20}
NSBOX=${NSBOX:-$REPO/target/release/nsbox}
IMAGES=${BENCH_IMAGES:-$REPO/target/images}
BUSYBOX=${BENCH_BUSYBOX:-/bin/busybox}

[ "$(id -u)" = 0 ] || { echo "bench: must run as root" >&2; exit 1; }
for t in crun runc python3; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (apt-get install -y crun runc python3)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/nsbox-bench.XXXXXX)
cleanup() {
  local i
  for i in $(seq "$N"); do
    crun delete -f "bench-crun-$i" >/dev/null 2>&1 || true
    runc delete -f "bench-runc-$i" >/dev/null 2>&1 || true
  done
  crun delete -f bench-crun-rss >/dev/null 2>&1 || true
  runc delete -f bench-runc-rss >/dev/null 2>&1 || true
  [ -x "$NSBOX" ] && "$NSBOX" --root "$work/root" rm -f $(seq -f 'bench-%g' "$N") bench-rss >/dev/null 2>&1 || true
  # nsbox may have left mounts under its root if it failed half-way: unmount only ours.
  awk -v r="$work/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the bundle ---
B=$work/bundle
mkdir -p "$B/rootfs/bin"
cp "$BUSYBOX" "$B/rootfs/bin/busybox"
for a in $("$BUSYBOX" --list); do [ "$a" = busybox ] || ln -s busybox "$B/rootfs/bin/$a"; done
(cd "$B" && runc spec)
python3 - "$B/config.json" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
json.dump(c, open(p, "w"), indent=2)
EOF

# --- does crun/runc need the cgroup wrapper here? ---
WRAP_SH='mount -t tmpfs tmpfs /sys/fs/cgroup/unified && exec "$@"'
needs_wrap() { # $1 = runtime
  local rc=0
  "$1" run -b "$B" "bench-$1-probe" >/dev/null 2>&1 || rc=$?
  "$1" delete -f "bench-$1-probe" >/dev/null 2>&1 || true
  [ "$rc" != 0 ] && mountpoint -q /sys/fs/cgroup/unified
}
wrap() { unshare -m --propagation private sh -c "$WRAP_SH" sh "$@"; }
crun_wrap=; runc_wrap=
needs_wrap crun && crun_wrap=wrap
needs_wrap runc && runc_wrap=wrap

# --- timing: one command per run; "{i}" in the args becomes the run number ---
# Writes per-run milliseconds to $work/<name>.ms; "FAIL" on the first failure.
bench() { # name cleanup-cmd(string, may be empty) cmd args...
  local name=$1 clean=$2 i t0 t1 a
  shift 2
  : >"$work/$name.ms"
  for i in $(seq "$N"); do
    local args=()
    for a in "$@"; do args+=("${a//\{i\}/$i}"); done
    t0=$(date +%s%N)
    if ! "${args[@]}" >/dev/null 2>"$work/$name.err"; then
      echo FAIL >"$work/$name.ms"
      return 0
    fi
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) >>"$work/$name.ms"
    [ -z "$clean" ] || eval "${clean//\{i\}/$i}" >/dev/null 2>&1 || true
  done
}
# Peak RSS of one more run, KiB.
rss() { # name cmd args... (time goes innermost: pass "TIME" where it belongs)
  local name=$1 a args=()
  shift
  [ -x /usr/bin/time ] || return 0
  for a in "$@"; do
    if [ "$a" = TIME ]; then args+=(/usr/bin/time -o "$work/$name.rss" -f %M); else args+=("$a"); fi
  done
  "${args[@]}" >/dev/null 2>&1 || rm -f "$work/$name.rss"
}

echo "bench: N=$N, bundle $B, crun wrapper: ${crun_wrap:-none}, runc wrapper: ${runc_wrap:-none}" >&2

# Wrapper overhead: the same private-namespace + tmpfs mount, exec'ing true.
bench wrapper "" unshare -m --propagation private sh -c "$WRAP_SH" sh true

if [ -x "$NSBOX" ]; then
  R=$work/root
  [ -f "$IMAGES/busybox-oci.tar" ] || echo "no $IMAGES/busybox-oci.tar (make images)" >"$work/load.err"
  if [ -f "$IMAGES/busybox-oci.tar" ] && "$NSBOX" --root "$R" load -q -i "$IMAGES/busybox-oci.tar" >/dev/null 2>"$work/load.err"; then
    bench nsbox-image "" "$NSBOX" --root "$R" run --rm busybox /bin/true
    rss nsbox-image TIME "$NSBOX" --root "$R" run --rm busybox /bin/true
  else
    echo FAIL >"$work/nsbox-image.ms"
    { echo "load failed"; cat "$work/load.err" 2>/dev/null || true; } >"$work/nsbox-image.err"
  fi
  bench nsbox-bundle "\"\$NSBOX\" --root \"\$R\" rm -f bench-{i}" "$NSBOX" --root "$R" run --bundle "$B" --name "bench-{i}"
  rss nsbox-bundle TIME "$NSBOX" --root "$R" run --bundle "$B" --name bench-rss
else
  for r in nsbox-image nsbox-bundle; do echo FAIL >"$work/$r.ms"; echo "$NSBOX not built" >"$work/$r.err"; done
fi

bench crun "crun delete -f bench-crun-{i}" $crun_wrap crun run -b "$B" "bench-crun-{i}"
rss crun $crun_wrap TIME crun run -b "$B" bench-crun-rss
bench runc "runc delete -f bench-runc-{i}" $runc_wrap runc run -b "$B" "bench-runc-{i}"
rss runc $runc_wrap TIME runc run -b "$B" bench-runc-rss

# --- report ---
python3 - "$work" "$crun_wrap" "$runc_wrap" <<'EOF'
import os, statistics, sys
work, crun_wrap, runc_wrap = sys.argv[1], sys.argv[2], sys.argv[3]
def load(name):
    try:
        vals = open(os.path.join(work, name + ".ms")).read().split()
    except OSError:
        return None
    if not vals or vals[0] == "FAIL":
        return None
    return [int(v) / 1000.0 for v in vals]
def rss(name):
    try:
        return int(open(os.path.join(work, name + ".rss")).read().split()[-1])
    except (OSError, ValueError, IndexError):
        return None
wrapper = load("wrapper")
wmed = statistics.median(wrapper) if wrapper else 0.0
rows = [("nsbox run --rm (image)", "nsbox-image", False),
        ("nsbox run --bundle", "nsbox-bundle", False),
        ("crun run", "crun", bool(crun_wrap)),
        ("runc run", "runc", bool(runc_wrap))]
res = {}
for label, name, wrapped in rows:
    v = load(name)
    if v is None:
        res[name] = None
        continue
    med = statistics.median(v)
    res[name] = (med, med - wmed if wrapped else med, min(v), max(v), wrapped)
base = res["crun"][1] if res.get("crun") else None
hdr = f"{'runtime':<24} {'median ms':>10} {'net ms':>8} {'min':>7} {'max':>7} {'x crun':>7} {'peak RSS KiB':>13}"
print(hdr)
print("-" * len(hdr))
for label, name, _ in rows:
    r = res[name]
    if r is None:
        print(f"{label:<24} {'n/a':>10} {'n/a':>8} {'':>7} {'':>7} {'n/a':>7} {'':>13}")
        continue
    med, net, lo, hi, wrapped = r
    ratio = f"{net / base:.2f}" if base else "n/a"
    m = rss(name)
    print(f"{label + (' *' if wrapped else ''):<24} {med:>10.1f} {net:>8.1f} {lo:>7.1f} {hi:>7.1f} {ratio:>7} {m if m is not None else '':>13}")
if wrapper:
    print(f"{'wrapper (unshare+mount)':<24} {wmed:>10.1f} {'':>8} {min(wrapper):>7.1f} {max(wrapper):>7.1f}")
print(f"N={len(wrapper) if wrapper else '?'} runs each; * = run inside the private-mount-namespace "
      f"wrapper, net = median - wrapper median ({wmed:.1f} ms); ratios on net.")
for name in ("nsbox-image", "nsbox-bundle"):
    if res.get(name) is None:
        p = os.path.join(work, name + ".err")
        err = [l for l in open(p).read().splitlines() if l.strip()] if os.path.exists(p) else []
        if err:
            print(f"{name}: n/a ({' / '.join(err[:2])[:160]})")
EOF
