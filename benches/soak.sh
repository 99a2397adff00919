#!/bin/bash
# benches/soak.sh — `make soak`: many short containers in a row and side by side, then a leak
# check. Not part of `make test` (minutes, not seconds).
#
#   1. SOAK_SEQ (1000) sequential `nsbox run --rm busybox true`
#   2. SOAK_CONC (200) concurrent ones, in waves of SOAK_WAVE (4: what 2 cores take)
#   3. leaks: mounts under the data root, nsbox-* cgroups (new since the start, empty, and
#      still there after a grace period: others' live containers have processes), containers/ dirs,
#      scratch entries in tmp/, nsbox processes still running from this binary
# Prints runs/s for each phase, failures and leaks; exits 1 if any failure or leak.
# Env: NSBOX (binary, default target/release/nsbox), SOAK_IMAGES (dir with busybox-oci.tar),
# SOAK_SEQ, SOAK_CONC, SOAK_WAVE. Root only. Uses its own data root under /tmp, removed after.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
NSBOX=$(realpath "${NSBOX:-$REPO/target/release/nsbox}")
IMAGES=${SOAK_IMAGES:-$REPO/target/images}
SEQ=${SOAK_SEQ:-1000}
CONC=${SOAK_CONC:-200}
WAVE=${SOAK_WAVE:-4}

[ "$(id -u)" = 0 ] || { echo "soak: must run as root" >&2; exit 1; }
[ -x "$NSBOX" ] || { echo "soak: $NSBOX missing (make build)" >&2; exit 1; }
[ -f "$IMAGES/busybox-oci.tar" ] || { echo "soak: $IMAGES/busybox-oci.tar missing (make images)" >&2; exit 1; }

root=$(mktemp -d /tmp/nsbox-soak.XXXXXX)
errs=$root.errors
export NSBOX_ROOT=$root
cleanup() {
  # Whatever leaked is reported before this runs; now leave the machine as it was.
  grep -F " $root/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$root" "$errs"
}
trap cleanup EXIT

cgroups() { find /sys/fs/cgroup -maxdepth 8 -type d -name 'nsbox-*' 2>/dev/null | sort; }
procs() {
  local p n=0
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$NSBOX" ] && n=$((n + 1))
  done
  echo "$n"
}
now() { date +%s.%N; }
rate() { python3 -c "import sys; n,a,b=map(float,sys.argv[1:]); print(f'{n/(b-a):.1f}')" "$@"; }

"$NSBOX" load -q -i "$IMAGES/busybox-oci.tar" >/dev/null || { echo "soak: load failed" >&2; exit 1; }
cg_before=$(cgroups)
: >"$errs"

echo "soak: $SEQ sequential runs ..."
fail_seq=0
t0=$(now)
for i in $(seq "$SEQ"); do
  "$NSBOX" run --rm busybox true 2>>"$errs" || fail_seq=$((fail_seq + 1))
done
t1=$(now)

echo "soak: $CONC concurrent runs in waves of $WAVE ..."
fail_conc=0
t2=$(now)
done_n=0
while [ "$done_n" -lt "$CONC" ]; do
  pids=()
  for _ in $(seq "$WAVE"); do
    [ "$done_n" -lt "$CONC" ] || break
    "$NSBOX" run --rm busybox true 2>>"$errs" &
    pids+=($!)
    done_n=$((done_n + 1))
  done
  for p in "${pids[@]}"; do
    wait "$p" || fail_conc=$((fail_conc + 1))
  done
done
t3=$(now)

# Leak check: what a --rm run must not leave.
sleep 1
mounts=$(grep -cF " $root/" /proc/self/mountinfo)
# New nsbox-* cgroups that are empty and still there after a grace period: a --rm run's
# leak. (Other users' live containers on this machine have processes in theirs.)
empty_new() {
  local d
  comm -13 <(echo "$cg_before") <(cgroups) | while read -r d; do
    [ -d "$d" ] || continue
    if [ -f "$d/cgroup.procs" ] && [ ! -s "$d/cgroup.procs" ]; then echo "$d"; fi
  done
}
first=$(empty_new)
sleep 2
cg_leaked=$(comm -12 <(echo "$first" | sort) <(empty_new | sort) | grep . || true)
cg_leak=$(echo -n "$cg_leaked" | grep -c . || true)
containers=$(find "$root/containers" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
scratch=$(find "$root/tmp" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
listed=$("$NSBOX" ps -aq | wc -l)
running=$(procs)
leaks=$((mounts + cg_leak + containers + scratch + listed + running))

echo "sequential: $SEQ runs, $(rate "$SEQ" "$t0" "$t1") runs/s, $fail_seq failed"
echo "concurrent: $CONC runs (waves of $WAVE), $(rate "$CONC" "$t2" "$t3") runs/s, $fail_conc failed"
echo "leaks: mounts=$mounts cgroups=$cg_leak containers_dirs=$containers scratch=$scratch ps_a=$listed processes=$running"
if [ -s "$errs" ]; then
  echo "first errors:"
  sort "$errs" | uniq -c | sort -rn | head -5
fi
if [ $((fail_seq + fail_conc + leaks)) -ne 0 ]; then
  echo "$cg_leaked" | head -5
  exit 1
fi
echo "soak: ok"
