#!/bin/bash
# images/deps.sh — install what nsbox's make targets need, on Debian 12 or newer. Idempotent, and
# quick when everything is present (one dpkg-query, no network). Used by `make run`, `make test`
# and .ci/run alike, so the README's two commands work on a brand-new machine.
#
#   images/deps.sh run    what `make run` needs: build tools and busybox-static for the image
#   images/deps.sh test   everything `make test` needs (adds the reference runtimes and tools the
#                         tests compare against, and the qemu guest of the cgroup-v2 stage)
#   images/deps.sh bench  `make test`'s set plus the benchmark tools
set -euo pipefail
profile=${1:-test}

# Needed to build and to make the busybox image.
run_pkgs=(busybox-static python3 make gcc libc6-dev pkg-config libseccomp-dev ca-certificates)
# The tests: reference runtimes and image tools (runc crun skopeo umoci buildah), the VM stage
# (qemu-system-x86, kmod for depmod, zstd for the test archive), probes used inside tests
# (keyutils: keyctl; bsdextrautils: script(1); iproute2: ip netns; procps, util-linux).
test_pkgs=(runc crun skopeo umoci buildah qemu-system-x86 kmod zstd xz-utils iproute2 procps
  util-linux keyutils bsdextrautils time)
bench_pkgs=(hyperfine)

case $profile in
  run) want=("${run_pkgs[@]}") ;;
  test) want=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) want=("${run_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "deps.sh: unknown profile '$profile' (run, test or bench)" >&2; exit 2 ;;
esac

missing=()
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${want[@]}" 2>/dev/null || true)
for p in "${want[@]}"; do
  grep -qx "$p installed" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "deps.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

# The VM stage (tests/vm/prepare.sh) resolves Debian's cloud kernel from the package lists.
if [ "$profile" != run ] && ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
  echo "deps.sh: refreshing the package lists (for the test VM's kernel)" >&2
  apt-get update -q >&2
fi

export PATH="$HOME/.cargo/bin:/usr/local/bin:$PATH"
if ! command -v cargo >/dev/null; then
  echo "deps.sh: cargo not found: nsbox needs a Rust toolchain (rustup, in \$HOME/.cargo/bin)" >&2
  exit 1
fi
if [ "$profile" != run ] && ! command -v cargo-nextest >/dev/null; then
  echo "deps.sh: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest >&2
fi
