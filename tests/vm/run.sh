#!/bin/bash
# tests/vm/run.sh — run one command inside a pure cgroup-v2 qemu guest (Debian cloud kernel, TCG).
#
#   tests/vm/run.sh [--timeout SECS] [--env K=V]... [--mem MiB] [--cgroup PATH] -- CMD [ARGS...]
#
# Contract:
# - The guest sees the host's / (shared read-only with virtiofsd, also mounted at /host) at the
#   SAME absolute paths, as an overlay whose writes go to guest RAM and vanish at exit. Fresh
#   guest tmpfs on /tmp, /run, /var/lib/nsbox (put overlay upper dirs there, not on the share);
#   the guest's own /proc, /sys, /dev (+pts, shm, mqueue). Host glibc binaries run as they are.
# - cgroup2 only (cgroup_no_v1=all), mounted at /sys/fs/cgroup with nsdelegate; the root has
#   +cpuset +cpu +io +memory +pids in cgroup.subtree_control; CMD runs in /sys/fs/cgroup/test
#   (--cgroup PATH to change, `--cgroup /` = the root cgroup). overlay, veth, bridge are loaded;
#   nf_tables/nf_nat/br_netfilter/tun/dummy/loop are modprobe-able. Only `lo` exists (no network).
# - CMD runs as root in the caller's cwd, stdin /dev/null, with env: PATH HOME USER LANG CI
#   RUST_BACKTRACE RUST_LOG RUST_TEST_THREADS NSBOX_* CARGO_HOME RUSTUP_HOME RUSTUP_TOOLCHAIN
#   NEXTEST_* (those set here), NSBOX_IN_VM=1, plus each --env K=V.
# - CMD's stdout+stderr stream to our stdout (serial console, \r stripped). Our exit status is
#   CMD's; 124 on timeout (default 600 s, --timeout or NSBOX_VM_TIMEOUT); 125 if the guest failed
#   before reporting a status. A summary line (status, seconds) goes to stderr.
# - Runs tests/vm/prepare.sh first (a no-op when target/vm is up to date). Starts one virtiofsd
#   (host / shared with -o sandbox=chroot: its default pivot_root sandbox fails for source=/) and
#   one qemu, and kills exactly those (by pid) on every exit path. Root only.
# - cgroup nesting: /test holds CMD's processes, so v2's no-internal-processes rule forbids
#   enabling controllers in /test's subtree_control while they are there. Code that creates
#   cgroups below its own must first move itself (and whatever shares its cgroup) into a leaf,
#   or place containers as siblings; `--cgroup /` runs CMD in the (exempt) root cgroup instead.
# - Output through a pipe, not a tty. A background process that keeps CMD's stdout open keeps
#   the run alive until the timeout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${NSBOX_VM_DIR:-$REPO/target/vm}
timeout=${NSBOX_VM_TIMEOUT:-600}
mem=${NSBOX_VM_MEM:-2048}
cgroup=/test
extra_env=()

usage() { sed -n '4p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --timeout) timeout=$2; shift 2 ;;
    --timeout=*) timeout=${1#*=}; shift ;;
    --env) extra_env+=("$2"); shift 2 ;;
    --env=*) extra_env+=("${1#*=}"); shift ;;
    --mem) mem=$2; shift 2 ;;
    --cgroup) cgroup=$2; shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
[ $# -gt 0 ] || usage
[[ $timeout =~ ^[0-9]+$ ]] || usage
[ "$(id -u)" = 0 ] || { echo "vm/run: must run as root" >&2; exit 125; }

# Cheap when up to date (a stamp check); rebuilds the initramfs when tests/vm/init changed.
NSBOX_VM_DIR=$OUT bash "$HERE/prepare.sh" >&2 || exit 125
qemu=$(command -v qemu-system-x86_64) || { echo "vm/run: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 125; }
virtiofsd=
for v in /usr/lib/qemu/virtiofsd /usr/libexec/virtiofsd; do [ -x "$v" ] && { virtiofsd=$v; break; }; done
[ -n "$virtiofsd" ] || { echo "vm/run: virtiofsd missing (comes with qemu-system-x86 on Debian 12)" >&2; exit 125; }

state=$(mktemp -d /tmp/nsbox-vm.XXXXXX)
vfs_pid= qemu_pid=
cleanup() {
  local rc=$?
  [ -n "$qemu_pid" ] && kill -KILL "$qemu_pid" 2>/dev/null || true
  [ -n "$vfs_pid" ] && kill -TERM "$vfs_pid" 2>/dev/null || true
  [ -n "$qemu_pid" ] && wait "$qemu_pid" 2>/dev/null || true
  [ -n "$vfs_pid" ] && wait "$vfs_pid" 2>/dev/null || true
  rm -rf "$state"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The command script the guest runs (busybox sh): env, cwd, exec. Single-quote everything.
q() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
{
  echo "unset nsbox_vm_cmd nsbox_vm_nonce nsbox_vm_cgroup"
  for k in PATH HOME USER LANG CI RUST_BACKTRACE RUST_LOG RUST_TEST_THREADS CARGO_HOME RUSTUP_HOME \
    RUSTUP_TOOLCHAIN $(compgen -e | grep -E '^(NSBOX_|NEXTEST_)' || true); do
    [ -n "${!k+x}" ] && echo "export $k=$(q "${!k}")"
  done
  echo "export NSBOX_IN_VM=1"
  for kv in "${extra_env[@]}"; do
    [[ $kv == *=* ]] || { echo "vm/run: --env wants K=V, got $kv" >&2; exit 2; }
    echo "export ${kv%%=*}=$(q "${kv#*=}")"
  done
  echo "cd $(q "$PWD") || exit 125"
  printf 'exec'
  for a in "$@"; do printf ' %s' "$(q "$a")"; done
  echo
} >"$state/cmd"

nonce=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
sock=$state/vfs.sock
if [ "$virtiofsd" = /usr/libexec/virtiofsd ]; then
  "$virtiofsd" --socket-path="$sock" --shared-dir=/ --cache=always >"$state/virtiofsd.log" 2>&1 &
else
  "$virtiofsd" --socket-path="$sock" -o source=/ -o cache=always -o sandbox=chroot -o log_level=err >"$state/virtiofsd.log" 2>&1 &
fi
vfs_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "vm/run: virtiofsd did not start:" >&2; cat "$state/virtiofsd.log" >&2; exit 125; }

start=$(date +%s%N)
mkfifo "$state/serial"
"$qemu" -accel tcg,thread=multi -cpu max -machine q35 -smp 2 -m "${mem}M" -nodefaults \
  -no-user-config -display none -no-reboot -serial stdio -monitor none \
  -kernel "$OUT/vmlinuz" -initrd "$OUT/initrd.img" \
  -chardev socket,id=vfs,path="$sock" \
  -device vhost-user-fs-pci,queue-size=1024,chardev=vfs,tag=hostshare \
  -object memory-backend-memfd,id=mem,size="${mem}M",share=on -numa node,memdev=mem \
  -append "console=ttyS0 panic=-1 quiet loglevel=3 cgroup_no_v1=all nsbox_vm_cmd=$state/cmd nsbox_vm_nonce=$nonce nsbox_vm_cgroup=$cgroup nsbox_vm_cwd=$PWD" \
  </dev/null >"$state/serial" 2>"$state/qemu.log" &
qemu_pid=$!
exec 3<"$state/serial"

status= line=
deadline=$((SECONDS + timeout))
while :; do
  left=$((deadline - SECONDS))
  if [ "$left" -le 0 ]; then status=124; break; fi
  if IFS= read -r -t "$left" line <&3; then
    line=${line%$'\r'}
    if [[ $line == *"NSBOX_VM_EXIT="*" $nonce" ]]; then
      pre=${line%%NSBOX_VM_EXIT=*}
      [ -n "$pre" ] && printf '%s\n' "$pre"
      status=${line##*NSBOX_VM_EXIT=}
      status=${status%% *}
      break
    fi
    printf '%s\n' "$line"
  else
    rc=$?
    if [ "$rc" -gt 128 ]; then status=124; break; fi
    [ -n "$line" ] && printf '%s\n' "${line%$'\r'}"
    break # EOF: qemu exited
  fi
done
end=$(date +%s%N)
elapsed=$(( (end - start) / 1000000 ))
if [ -z "$status" ]; then
  echo "vm/run: guest ended without reporting a status; qemu said:" >&2
  cat "$state/qemu.log" >&2
  status=125
elif [ "$status" = 124 ] && ! [[ $line == *"NSBOX_VM_EXIT="* ]]; then
  echo "vm/run: timeout after ${timeout}s" >&2
fi
# Let the guest finish powering off (it already synced); the EXIT trap kills whatever is left.
for _ in $(seq 20); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.05; done
printf 'vm/run: exit %s after %d.%03ds (boot to exit)\n' "$status" $((elapsed / 1000)) $((elapsed % 1000)) >&2
exit "$status"
