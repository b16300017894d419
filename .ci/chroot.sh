#!/usr/bin/env bash
# A Debian sid chroot with real python3.13, python3.14 and python3.15 (experimental), for .ci/run.
#
#   .ci/chroot.sh [DIR]        (default /var/lib/cert-session-ci/sid; needs root)
#
# Idempotent. A complete chroot is kept and only brought up to date in place
# (packages, this machine's CA certificates, resolv.conf, /proc mounted); a
# missing one is built into DIR.tmp and renamed to DIR when complete, so an
# interrupted build never leaves a half chroot under DIR. The host's /dev is
# never bind-mounted (debootstrap creates the device nodes a chroot needs),
# and everything mounted below a directory is unmounted before it is deleted.
set -euo pipefail

DIR=${1:-/var/lib/cert-session-ci/sid}
MIRROR=http://deb.debian.org/debian
PACKAGES_SID=(python3.13 python3.14 python3.14-venv ca-certificates git curl valgrind strace openssl
  nodejs python3-venv python3-certifi python3-requests)  # node and Debian's own python3 stack: real clients of issue #23
PACKAGES_EXPERIMENTAL=(python3.15 python3.15-venv)

say() { echo "chroot.sh: $*" >&2; }

# Every mount point at or below $1, deepest first (mountinfo's 5th field, octal escapes kept).
mounts_below() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

unmount_below() {
  local m
  for m in $(mounts_below "$1"); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  if [ -n "$(mounts_below "$1")" ]; then
    say "still mounted below $1; refusing to go on"
    exit 1
  fi
}

remove_tree() {  # unmount first: rm -rf through a bind mount would delete the host's files
  unmount_below "$1"
  rm -rf --one-file-system "$1"
}

in_chroot() { chroot "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "${@:2}"; }

mount_proc() {
  if ! mountpoint -q "$1/proc"; then
    mount -t proc proc "$1/proc"
  fi
}

# Bring a chroot up to date in place; each step does nothing when already done.
ensure() {
  local root=$1 missing=() p
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  echo "deb $MIRROR experimental main" > "$root/etc/apt/sources.list.d/experimental.list"
  mount_proc "$root"
  for p in "${PACKAGES_SID[@]}" "${PACKAGES_EXPERIMENTAL[@]}"; do
    in_chroot "$root" dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    # (apt's "Can not write log (Is /dev/pts mounted?)" is harmless: no host /dev here, on purpose.)
    in_chroot "$root" apt-get -qq -o Acquire::Check-Valid-Until=false update >/dev/null
    in_chroot "$root" apt-get install -y -qq --no-install-recommends "${PACKAGES_SID[@]}" >/dev/null
    in_chroot "$root" apt-get install -y -qq --no-install-recommends -t experimental "${PACKAGES_EXPERIMENTAL[@]}" >/dev/null
  fi
  # This machine's own CA certificates (an egress proxy's, say): pip inside
  # verifies with the system store (truststore); without them it fails with
  # "self-signed certificate in certificate chain".
  local changed=0 crt
  for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -e "$crt" ] || continue
    if ! cmp -s "$crt" "$root/usr/local/share/ca-certificates/$(basename "$crt")"; then
      cp "$crt" "$root/usr/local/share/ca-certificates/"
      changed=1
    fi
  done
  if [ "$changed" = 1 ] || [ ! -s "$root/etc/ssl/certs/ca-certificates.crt" ]; then
    in_chroot "$root" update-ca-certificates >/dev/null
  fi
}

complete() {  # what .ci/run needs from a chroot
  [ -x "$1/usr/bin/python3.14" ] && [ -x "$1/usr/bin/python3.15" ] && [ -x "$1/usr/bin/python3.13" ] \
    && [ -f "$1/usr/lib/python3.14/ensurepip/__init__.py" ] && [ -f "$1/usr/lib/python3.15/ensurepip/__init__.py" ]
}

if [ "$(id -u)" != 0 ]; then
  say "needs root (debootstrap, chroot, mount)"
  exit 1
fi

if [ -d "$DIR" ] && complete "$DIR"; then
  ensure "$DIR"
  say "kept $DIR"
  exit 0
fi
if [ -e "$DIR" ]; then
  say "$DIR exists but is not complete (no python3.13/3.14/3.15 with venv); rebuilding it"
fi

command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap; }
TMP=$DIR.tmp
if [ -e "$TMP" ]; then
  remove_tree "$TMP"  # an interrupted build
fi
mkdir -p "$(dirname "$DIR")"
say "building $DIR (debootstrap sid, a few minutes)"
debootstrap --variant=minbase sid "$TMP" "$MIRROR" >/dev/null
ensure "$TMP"
complete "$TMP" || { say "the build lacks an interpreter"; exit 1; }
unmount_below "$TMP"
if [ -e "$DIR" ]; then
  remove_tree "$DIR"
fi
mv "$TMP" "$DIR"
mount_proc "$DIR"
say "built $DIR"
