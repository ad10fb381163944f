#!/usr/bin/env bash
# Run CMD... inside fresh namespaces where the only network interface is `lo`.
#
# Why: dockerd, containerd, podman and skopeo silently fall back to registry-1.docker.io when a docker.io mirror
# fails. With no route off the machine a mirror failure shows as a failed pull and no packet leaves the host.
# Every server a test starts (registry, token server, mirror) and every client share this loopback.
#
# Namespaces: net (only lo), mount (daemons' overlay/shm mounts vanish with it; /sys is remounted so
# /sys/class/net shows this namespace), pid (when CMD exits, --kill-child and the namespace's end kill any
# daemon a crashed test left behind). CMD runs as a child of sh, not as PID 1, so Ctrl-C still reaches it.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi
if [[ $EUID -ne 0 ]]; then
  echo "$0: needs root (unshare of net/mount/pid namespaces)" >&2
  exit 2
fi

exec unshare --net --mount --pid --fork --kill-child --mount-proc --propagation private \
  sh -c 'set -e
    ip link set lo up
    # A sysfs mounted in this netns lists only its interfaces; bind just its class/net so /sys/fs/cgroup stays.
    tmp=$(mktemp -d)
    mount -t sysfs sysfs "$tmp"
    mount --bind "$tmp/class/net" /sys/class/net
    umount "$tmp" && rmdir "$tmp"
    "$@"' netns-run "$@"
