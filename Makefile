# nsbox — see README.md. Everything runs as root (namespaces, mounts, cgroups).
CARGO   ?= cargo
BIN     := target/release/nsbox
IMAGES  := target/images
# The default image `make run` uses: an OCI layout built from Debian's busybox-static.
IMAGE   := $(IMAGES)/busybox-oci.tar
NSBOX_ROOT ?= /var/lib/nsbox
export NSBOX_ROOT

.PHONY: all build images run test lint bench install clean

all: build images

build:
	$(CARGO) build --release

images: $(IMAGE)

$(IMAGE): images/mkimage.py
	python3 images/mkimage.py --out $(IMAGES)

run: build images
	$(BIN) load -q -i $(IMAGE)
	$(BIN) run -it --rm busybox sh

test: build images
	NSBOX_TEST_IMAGES=$(CURDIR)/$(IMAGES) $(CARGO) nextest run --release --no-fail-fast

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings

bench: build images
	bash benches/run.sh

install: build
	install -D -m 0755 $(BIN) /usr/local/bin/nsbox

clean:
	$(CARGO) clean
