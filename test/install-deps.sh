#!/usr/bin/env bash
# Makes sure the Debian packages the tests (and the benchmark) drive are installed: `npm test` runs it first, as its
# `pretest` script. Checks with dpkg-query and installs only the missing ones with apt-get; quick and silent when
# all are present. Without root, or on a system with no dpkg/apt-get, it names what is missing and exits 1.
#   usage: bash test/install-deps.sh [EXTRA_PACKAGE...]   (extra names are checked too; for trying the script out)
set -euo pipefail

PACKAGES=(
  # The upstream registry the fixtures run, and a client that copies images with it.
  docker-registry skopeo
  # The other clients: containerd (+ runc to run its containers), dockerd, podman.
  containerd runc docker.io podman
  # A runnable image's /bin/busybox.
  busybox-static
  # The benchmark: nginx for the ceiling, wrk for load.
  nginx wrk
  # njs for nginx: the CDN fixture verifies the HMAC-SHA256 redirect URLs with it (test/fixtures/hmac-link.js).
  libnginx-mod-http-js
  # A real S3 server that checks SigV4 signatures, for the S3 driver's tests: a one-node Ceph cluster + radosgw.
  radosgw ceph-mon ceph-osd ceph-common
  # The token server's key pair (openssl), the loopback-only netns (ip, unshare), setpriv (util-linux).
  openssl iproute2 util-linux
  # The web console's browser tests: headless Chromium (driven by playwright-core) and a font for its screenshots.
  chromium fonts-dejavu-core
)
PACKAGES+=("$@")

me="test/install-deps.sh"
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "$me: not a Debian system (no dpkg-query/apt-get): the tests need the Debian packages ${PACKAGES[*]}" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" == installed ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $EUID -ne 0 ]]; then
  echo "$me: missing Debian packages: ${missing[*]}" >&2
  echo "$me: run as root to install them, or: apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "$me: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
