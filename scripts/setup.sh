#!/usr/bin/env bash
# Every set-up step kiln needs on a fresh Debian 12 machine with Node 20: the Debian packages
# it runs (installed through apt when root, otherwise named), the npm dependencies, the build.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, each with the program that shows it is there.
declare -A NEEDS=(
  [qemu-system-x86]=qemu-system-x86_64
  [musl-tools]=musl-gcc
  [gcc]=gcc
  [libc6-dev]=/usr/include/stdio.h
  [e2fsprogs]=mke2fs
  [cpio]=cpio
  # Targets (src/targets, src/export) and their tests: UEFI firmware and the UKI stub (efi, disk),
  # the ESP and GPT tools and qemu-img (disk), libvirt's schema checker (export --libvirt), and
  # libxlutil, xl's config parser, to check xl.cfg without a hypervisor (xen).
  [ovmf]=/usr/share/OVMF/OVMF_CODE.fd
  [systemd-boot-efi]=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
  [dosfstools]=mkfs.fat
  [mtools]=mcopy
  [fdisk]=sfdisk
  [qemu-utils]=qemu-img
  [libvirt-clients]=virt-xml-validate
  [libxml2-utils]=xmllint
  [libxen-dev]=/usr/include/libxlutil.h
  # Secure Boot signing of UKIs (bake --sign-key/--sign-cert) and its test (sbsign, sbverify).
  [sbsigntool]=sbsign
  # Cross toolchain (src/toolchain) and its tests: C++ for the glibc tuple, binutils and
  # pkg-config behind the wrappers, and the build systems the tests cross-build with.
  [g++]=g++
  [clang]=clang
  [binutils]=x86_64-linux-gnu-ar
  [pkgconf]=pkg-config
  [autoconf]=autoconf
  [automake]=automake
  [libtool]=libtoolize
  [make]=make
  [cmake]=cmake
  [meson]=meson
  [ninja-build]=ninja
  # aarch64 (aarch64-kiln-linux-musl, the qemu target on aarch64): Debian's cross gcc and
  # binutils behind the wrappers, and qemu-system-aarch64 to boot the images under TCG.
  [gcc-aarch64-linux-gnu]=aarch64-linux-gnu-gcc
  [binutils-aarch64-linux-gnu]=aarch64-linux-gnu-ar
  [qemu-system-arm]=qemu-system-aarch64
  # Runtime tests (test/integration/network.test.ts): a real DHCP server in a network namespace.
  [dnsmasq-base]=dnsmasq
  [iproute2]=ip
  # Debian packages as inputs (src/debian) and their tests: clients for the catalogue's servers.
  [redis-tools]=redis-cli
  [curl]=curl
  # Package builds (src/pkgbuild): every build step runs under `unshare --net --mount` (no network,
  # the host read-only except the build's work tree, made so with mount).
  [util-linux]=unshare
  [mount]=mount
  # Distribution (src/oci) tests: Debian's registry (distribution 2.8) as the real peer, skopeo as
  # the independent client, htpasswd for the basic-auth registry, openssl for the test CA and
  # for checking cosign-format signatures independently.
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [apache2-utils]=htpasswd
  [openssl]=openssl
)
missing=()
for pkg in "${!NEEDS[@]}"; do
  probe=${NEEDS[$pkg]}
  if [[ $probe == /* ]]; then [[ -e $probe ]] || missing+=("$pkg"); else command -v "$probe" >/dev/null || missing+=("$pkg"); fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "setup: kiln needs these Debian packages: ${missing[*]}" >&2
    echo "setup: install them as root with: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
# Debian's docker-registry package starts a registry service on port 5000 of every interface
# where systemd runs. kiln's tests start their own on loopback; nothing should listen beyond
# 127.0.0.1 unasked, so that service is stopped and disabled.
if command -v systemctl >/dev/null && systemctl is-enabled docker-registry >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: stopping and disabling the docker-registry service (kiln's tests start their own on 127.0.0.1)"
    systemctl disable --now docker-registry || true
  else
    echo "setup: the docker-registry service listens on port 5000 of every interface; stop it with: systemctl disable --now docker-registry" >&2
  fi
fi
# kiln resolves Debian's kernel package through apt; make sure apt has package lists.
if ! apt-cache show --no-all-versions linux-image-cloud-amd64 >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]]; then apt-get update -q; else echo "setup: run 'apt-get update' as root so apt knows the kernel packages" >&2; fi
fi
# aarch64 images need arm64 packages that kiln downloads but never installs: Debian's arm64
# cloud kernel (linux-image-cloud-arm64:arm64) and musl for arm64 (musl-dev:arm64, the
# aarch64-kiln-linux-musl C library). apt lists them only once arm64 is one of dpkg's
# architectures (multiarch). That is a host change, so it is made here, explicitly, never by
# kiln itself; it adds arm64 package lists and installs nothing.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: adding arm64 to dpkg's architectures (apt lists; nothing is installed)"
    dpkg --add-architecture arm64
    apt-get update -q
  else
    echo "setup: for aarch64 images run as root: dpkg --add-architecture arm64 && apt-get update" >&2
  fi
fi

node -e 'const [major] = process.versions.node.split(".").map(Number); if (major < 20) { console.error(`setup: kiln needs Node 20 or newer, this is ${process.version}`); process.exit(1); }'
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
