#!/usr/bin/env bash
# setup.sh — make this machine ready to build, test, demo and benchmark berth.
# Idempotent and quick when everything is already in place (it checks first).
#
#   1. Debian packages (apt-get update + install only if something is missing)
#   2. node_modules (npm ci when missing or package-lock.json changed)
#   3. native/opcodes.h regenerated from src/runtime/plan/opcodes.ts
#   4. make -C native (when native/Makefile exists)
#   5. the test rootfs: scripts/make-rootfs.sh .cache/rootfs/busybox
#
# Progress goes to stderr. Exits non-zero with a message naming the failing step.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

LOG_NAME=setup
# shellcheck source=lib.sh
. "$ROOT/scripts/lib.sh"

# ------------------------------------------------------------ 1. Debian packages
# What each is for:
#   build-essential, pkg-config, libseccomp-dev  build native/ (berth-init)
#   libseccomp2          seccomp filters compiled through bun:ffi
#   busybox-static       the test rootfs
#   runc                 reference peer for tests and benchmarks
#   iproute2, util-linux, procps, jq   ip/nsenter/unshare/ps/jq used by tests and scripts
#   podman, conmon, containerd         real engines driving berth-runtime (test/compat)
#   docker-registry      the OCI registry the registry client's tests push to and pull from
#   containernetworking-plugins, iptables   CNI plugins (bridge, host-local, portmap, firewall, loopback) for berthd networks
#   tini                 docker-init for `docker run --init` (/usr/bin/tini-static, bound at /sbin/docker-init)
PACKAGES=(build-essential pkg-config libseccomp2 libseccomp-dev busybox-static runc
  iproute2 util-linux procps jq podman conmon containerd docker-registry
  containernetworking-plugins iptables tini)
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
# One dpkg-query for all: prints "<pkg> ii" for each installed package, nothing
# for a package it has never heard of.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null || true)
for p in "${PACKAGES[@]}"; do
  grep -qE "^$p ii" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]} (run as root to install them)"
  step "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-o DPkg::Lock::Timeout=300 -q)
  quietly apt-get "${apt_opts[@]}" update || die "apt-get update failed"
  quietly apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" ||
    die "apt-get install ${missing[*]} failed"
fi

# ------------------------------------------------------------ 2. node_modules
BUN=node_modules/.bin/bun
STAMP=node_modules/.berth-install-stamp
[ -f package-lock.json ] && lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1) || lock_sum=none
bun_works() { "$BUN" --version >/dev/null 2>&1; }

if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$lock_sum" ] || ! bun_works ||
   [ ! -x node_modules/.bin/tsc ]; then
  if [ -f package-lock.json ]; then
    step "npm ci"
    quietly npm ci --no-audit --no-fund || die "npm ci failed"
  else
    step "npm install (no package-lock.json)"
    quietly npm install --no-audit --no-fund || die "npm install failed"
    lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
  fi
  # npm may skip bun's postinstall (npm 11 does not run dependencies' install
  # scripts unless allowed; --ignore-scripts anywhere in the config): without it
  # node_modules/.bin/bun is a placeholder. Its postinstall only links the binary
  # from the already installed platform package, so it works offline.
  if ! bun_works; then
    step "linking the bun binary (bun's postinstall)"
    quietly sh -c 'cd node_modules/bun && node install.js' || die "bun's postinstall (node install.js) failed"
  fi
  bun_works || die "$BUN does not run after npm install"
  [ -x node_modules/.bin/tsc ] || die "node_modules/.bin/tsc missing after npm install"
  echo "$lock_sum" >"$STAMP"
fi

# ------------------------------------------------------------ 3. native/opcodes.h
# The generator always rewrites the file; keep the old timestamp when the content
# is unchanged so make does not rebuild native/ on every run.
HDR=native/opcodes.h
if [ -f scripts/gen-native-header.ts ]; then
  saved=$(mktemp)
  trap 'rm -f "$saved"' EXIT
  [ -f "$HDR" ] && cp -p "$HDR" "$saved"
  "$BUN" scripts/gen-native-header.ts >&2 || die "scripts/gen-native-header.ts failed"
  if [ -s "$saved" ] && cmp -s "$saved" "$HDR"; then
    touch -r "$saved" "$HDR"
  else
    step "regenerated $HDR"
  fi
fi

# ------------------------------------------------------------ 4. native core
if [ -f native/Makefile ]; then
  out=$(make -C native 2>&1) || { echo "$out" >&2; die "make -C native failed"; }
  grep -q "Nothing to be done\|is up to date" <<<"$out" || step "built native/ (make -C native)"
else
  step "native/Makefile not present yet; skipping the native build"
fi

# ------------------------------------------------------------ 4b. runtime bundle
# bin/berth-runtime prefers build/runtime/ (bytecode) while it is newer than src/.
if [ ! -f build/runtime/runtime.js ] || [ -n "$(find src -newer build/runtime/runtime.js -print -quit)" ]; then
  bash scripts/build-bundle.sh || die "scripts/build-bundle.sh failed"
  step "built build/runtime (bundle + bytecode)"
fi
bash scripts/setup-criu.sh || step "warning: no working CRIU (scripts/setup-criu.sh failed): checkpoint tests will be skipped"

# ------------------------------------------------------------ 5. test rootfs
bash scripts/make-rootfs.sh .cache/rootfs/busybox || die "scripts/make-rootfs.sh failed"

step "ready"
