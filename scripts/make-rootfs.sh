#!/usr/bin/env bash
# make-rootfs.sh DIR — build a minimal busybox root filesystem in DIR for tests,
# the demo and the benchmarks, from Debian's busybox-static (/bin/busybox).
#
#   DIR/bin/busybox and one symlink per applet (`busybox --list`) in DIR/bin
#   DIR/etc/{passwd,group,hostname,hosts}: root (0), berth (1000), nobody (65534)
#   empty DIR/{proc,sys,dev,root,home/berth}, DIR/tmp mode 1777
#
# Rebuilt only when DIR is missing, was built by another version of this script,
# or /bin/busybox changed (DIR/.berth-rootfs records both). The new tree is built
# beside DIR and renamed into place, so DIR is never half-built.
set -euo pipefail

# Bump when the layout below changes, so existing trees get rebuilt.
LAYOUT_VERSION=1
BUSYBOX=${BUSYBOX:-/bin/busybox}

die() { echo "make-rootfs: $*" >&2; exit 1; }

if [ $# -ne 1 ] || [ -z "$1" ]; then die "usage: make-rootfs.sh DIR"; fi
DIR=${1%/}
[ -n "$DIR" ] || die "refusing to build into /"

[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"
# A dynamically linked busybox (Debian's 'busybox' package) would not run in a
# rootfs without libc: insist on the static one.
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  die "$BUSYBOX is dynamically linked (apt-get install busybox-static)"
fi

bb_sum=$(sha256sum "$BUSYBOX" | cut -d' ' -f1)
want="layout=$LAYOUT_VERSION busybox=$bb_sum"
if [ -f "$DIR/.berth-rootfs" ] && [ "$(cat "$DIR/.berth-rootfs")" = "$want" ] &&
   [ -x "$DIR/bin/busybox" ]; then
  exit 0 # up to date
fi

# Refuse to delete or replace a tree that has anything mounted inside it (for
# example a container still running on it, or a mount that leaked to the host).
mounted_under() {
  local abs
  abs=$(realpath -m "$1")
  # field 5 of mountinfo is the mount point (spaces are escaped as \040)
  awk -v p="$abs" '$5 == p || index($5, p "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo
}
if [ -e "$DIR" ] && mounted_under "$DIR"; then
  die "something is mounted under $DIR; unmount it first"
fi

mkdir -p "$(dirname "$DIR")"
tmp=$(mktemp -d "$DIR.tmp.XXXXXX")
trap 'rm -rf --one-file-system "$tmp"' EXIT

install -d -m 0755 "$tmp"/{bin,etc,dev,proc,sys,home}
install -d -m 0700 "$tmp/root"
install -d -m 1777 "$tmp/tmp"
install -d -m 0755 "$tmp/home/berth"

install -m 0755 "$BUSYBOX" "$tmp/bin/busybox"
n=0
while IFS= read -r applet; do
  case $applet in
    "" | busybox | */*) continue ;;
  esac
  ln -s busybox "$tmp/bin/$applet"
  n=$((n + 1))
done < <("$BUSYBOX" --list)
[ "$n" -gt 100 ] || die "$BUSYBOX --list gave only $n applets"

cat >"$tmp/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
berth:x:1000:1000:berth:/home/berth:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$tmp/etc/group" <<'EOF'
root:x:0:
berth:x:1000:
nogroup:x:65534:
EOF
cat >"$tmp/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost
EOF
: >"$tmp/etc/hostname"
chmod 0644 "$tmp"/etc/{passwd,group,hosts,hostname}

# Ownership only matters (and only works) when building as root.
if [ "$(id -u)" -eq 0 ]; then
  chown -R 0:0 "$tmp"
  chown 1000:1000 "$tmp/home/berth"
fi
chmod 0755 "$tmp"
echo "$want" >"$tmp/.berth-rootfs"

if [ -e "$DIR" ]; then
  old="$DIR.old.$$"
  mv "$DIR" "$old"
  mv "$tmp" "$DIR"
  rm -rf --one-file-system "$old"
else
  mv "$tmp" "$DIR"
fi
trap - EXIT
echo "make-rootfs: built $DIR ($n applets)" >&2
