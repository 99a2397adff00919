# nsbox — see README.md. Everything runs as root (namespaces, mounts, cgroups).
CARGO   ?= cargo
BIN     := target/release/nsbox
IMAGES  := target/images
# The default image `make run` uses: an OCI layout built from Debian's busybox-static.
IMAGE   := $(IMAGES)/busybox-oci.tar
NSBOX_ROOT ?= /var/lib/nsbox
export NSBOX_ROOT
# rustup's cargo, for a fresh machine whose shell profile has not put it on PATH yet.
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all deps deps-run build images run test test-vm vm-prepare lint bench soak install clean

# The VM stage of `make test`: the cgroup, overlay, namespace, device-filter and confinement
# (security probe) integration tests, run again
# inside the pure cgroup-v2 qemu guest (tests/vm/run.sh). They run in the guest's root cgroup:
# v2 lets only the root mix processes with delegated controllers (see cgroups.rs for the rule).
VM_TESTS   ?= binary(vm_smoke) | binary(cgroups) | binary(run) | binary(stats) | binary(machinery) | binary(explain) | binary(devices) | binary(security)
VM_TIMEOUT ?= 300
VM_ARCHIVE := target/vm/tests.tar.zst

all: build images

# One install script for `make run`, `make test` and .ci/run (quick when all is present).
deps-run:
	bash images/deps.sh run

deps:
	bash images/deps.sh test

build:
	$(CARGO) build --release
	ln -sf nsbox target/release/nsbox-runtime

images: $(IMAGE)

$(IMAGE): images/mkimage.py
	python3 images/mkimage.py --out $(IMAGES)

run: deps-run
	$(MAKE) build images
	$(BIN) load -q -i $(IMAGE)
	$(BIN) run -it --rm busybox sh

test: deps
	$(MAKE) build images
	NSBOX_TEST_IMAGES=$(CURDIR)/$(IMAGES) $(CARGO) nextest run --release --no-fail-fast
	$(MAKE) test-vm

vm-prepare:
	bash tests/vm/prepare.sh

# Archive the (already built) release test binaries on the host; in the guest, nextest runs them
# from the archive (no cargo needed there) with cwd = this checkout, visible at the same path.
test-vm: vm-prepare
	$(CARGO) nextest archive --release --archive-file $(VM_ARCHIVE)
	bash tests/vm/run.sh --timeout $(VM_TIMEOUT) --cgroup / --env NSBOX_TEST_IMAGES=$(CURDIR)/$(IMAGES) -- \
		cargo-nextest nextest run --archive-file $(CURDIR)/$(VM_ARCHIVE) \
		--workspace-remap $(CURDIR) --no-fail-fast -E '$(VM_TESTS)'

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings

bench:
	bash images/deps.sh bench
	$(MAKE) build images
	bash benches/run.sh

# 1000 sequential and 200 concurrent `run --rm busybox true`, then a leak check (mounts,
# cgroups, container dirs, scratch entries, processes). Minutes: not part of `make test`.
soak:
	$(MAKE) build images
	bash benches/soak.sh

install: build
	install -D -m 0755 $(BIN) /usr/local/bin/nsbox
	ln -sf nsbox /usr/local/bin/nsbox-runtime

clean:
	$(CARGO) clean
