#!/usr/bin/env bash
# Runs the .deb's maintainer scripts for real: installs an amd64 build of the package (the same
# build-deb.sh as the Pi's) with dpkg in a throwaway Debian root, checks what postinst made (the
# system user, its groups, /var/lib/facegate 0700, the conffile root:facegate 0640, the binary
# runs with the declared dependencies), then removes (prerm) and purges (postrm) it.
#   tests/deb_maintainer.sh BINARY        (an x86_64 build of facegate; needs root)
# The root is Debian's minbase (debootstrap) with the package's dependencies, made once and
# cached as a tarball under $FACEGATE_CACHE; Raspberry Pi OS's gpio, spi and input groups are
# added to each throwaway copy.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BINARY" >&2; exit 2; }
binary="$(realpath "$1")"
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${FACEGATE_CACHE:-$HOME/.cache/facegate}/deb-root"
suite=bookworm
base="$cache/$suite-minbase.tar"
depends="adduser,libfontconfig1,libinput10,libxkbcommon0,fonts-wqy-microhei"

if [ ! -f "$base" ]; then
    command -v debootstrap >/dev/null || {
        echo "debootstrap is missing: apt-get install debootstrap" >&2
        exit 1
    }
    fresh="$(mktemp -d)"
    debootstrap --variant=minbase --include="$depends" "$suite" "$fresh" \
        http://deb.debian.org/debian >"$fresh.log" 2>&1 || { cat "$fresh.log" >&2; exit 1; }
    mkdir -p "$cache"
    tar -C "$fresh" -cf "$base.part" . && mv "$base.part" "$base"
    rm -rf "$fresh" "$fresh.log"
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
tar -C "$root" -xf "$base"
# The device groups of Raspberry Pi OS that Debian's minbase lacks (video is in both).
for group in gpio spi input; do
    chroot "$root" groupadd --system --force "$group"
done
# Packing is not what is checked here: no compression keeps a warm run short.
deb="$(DPKG_DEB_COMPRESSOR_TYPE=none "$repo/hardware/debian/build-deb.sh" "$binary" amd64 "$root/tmp")"
in_root() { chroot "$root" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# dpkg's own chatter (adduser and deluser notes) is shown only when dpkg fails.
dpkg_in_root() {
    in_root dpkg "$@" >"$root/dpkg.log" 2>&1 || { cat "$root/dpkg.log" >&2; fail "dpkg $*"; }
}

dpkg_in_root -i "/tmp/$(basename "$deb")"
user="$(in_root getent passwd facegate)" || fail "no facegate user"
IFS=: read -r _ _ uid _ _ home shell <<<"$user"
[ "$uid" -lt 1000 ] || fail "facegate is not a system user (uid $uid)"
[ "$home" = /var/lib/facegate ] || fail "home is $home"
[ "$shell" = /usr/sbin/nologin ] || fail "shell is $shell"
groups="$(in_root id -nG facegate | tr ' ' '\n' | sort | tr '\n' ' ')"
[ "$groups" = "facegate gpio input spi video " ] || fail "groups: $groups"
[ "$(in_root stat -c '%a %U:%G' /var/lib/facegate)" = "700 facegate:facegate" ] ||
    fail "/var/lib/facegate: $(in_root stat -c '%a %U:%G' /var/lib/facegate)"
[ "$(in_root stat -c '%a %U:%G' /etc/facegate/facegate.toml)" = "640 root:facegate" ] ||
    fail "conffile: $(in_root stat -c '%a %U:%G' /etc/facegate/facegate.toml)"
in_root dpkg-query -W -f='${Conffiles}' facegate | grep -q /etc/facegate/facegate.toml ||
    fail "facegate.toml is not a conffile"
in_root /usr/bin/facegate --version >/dev/null || fail "the binary does not run with its Depends"

# remove (prerm, postrm remove): the data and the configuration stay for a reinstall.
echo data >"$root/var/lib/facegate/gate.db"
# A site controller's state directory, as systemd makes it for facegate-site.service.
mkdir -p "$root/var/lib/facegate-site"
echo register >"$root/var/lib/facegate-site/register.db"
dpkg_in_root -r facegate
[ -f "$root/var/lib/facegate/gate.db" ] || fail "remove deleted the database"
[ -f "$root/var/lib/facegate-site/register.db" ] || fail "remove deleted the site register"
[ -f "$root/etc/facegate/facegate.toml" ] || fail "remove deleted the conffile"
in_root getent passwd facegate >/dev/null || fail "remove deleted the user"
# purge (postrm purge): residents' data, the user and the configuration go.
dpkg_in_root -P facegate
[ ! -e "$root/var/lib/facegate" ] || fail "purge left /var/lib/facegate"
[ ! -e "$root/var/lib/facegate-site" ] || fail "purge left the site register"
! in_root getent passwd facegate >/dev/null || fail "purge left the facegate user"
[ ! -e "$root/etc/facegate/facegate.toml" ] || fail "purge left the conffile"
echo "maintainer scripts: install, remove and purge behave in a $suite root"
