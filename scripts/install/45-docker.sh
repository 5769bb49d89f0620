#!/usr/bin/env bash
# A real Docker engine for the Docker sandbox backend and its tests: Debian's docker.io from apt, and one offline
# base image for the synthetic SWE-bench instance, built from the Debian archive (no registry is needed):
#   debootstrap --variant=minbase bookworm + git, patch, python3, python3-pytest, a stand-in conda (so the official
#   eval script's `source /opt/miniconda3/bin/activate; conda activate testbed` lines run), then `docker import`.
# The rootfs tarball is cached under ~/.cache/aemgym/docker (debootstrap runs once per machine; a few minutes cold),
# the image in the engine's data-root. The engine is started for the import and stopped again when this script
# started it (scripts/docker-engine.sh; the tests start and stop it the same way). Needs root; without root it prints
# why and does nothing (the Docker tests then skip on that machine with the reason). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
log() { printf '\033[1;34m[docker]\033[0m %s\n' "$*"; }
if [ "$(id -u)" != 0 ]; then
  log "not root: skipping the Docker engine (install docker.io and start dockerd yourself to run the Docker tests)"
  exit 0
fi
apt_install() {
  apt-get install -y -q -o DPkg::Lock::Timeout=600 "$@" >/dev/null 2>&1 || {
    apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null && \
      apt-get install -y -q -o DPkg::Lock::Timeout=600 "$@" >/dev/null; }
}
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  # no service starts at install time on these machines (policy-rc.d); scripts/docker-engine.sh starts dockerd
  apt_install "${missing[@]}"
fi
IMAGE=${AEMGYM_DOCKER_BASE_IMAGE:-aemgym/swe-base:bookworm}
SUITE=bookworm
PACKAGES=git,patch,python3,python3-pytest,ca-certificates,procps
CACHE=${AEMGYM_CACHE:-$HOME/.cache/aemgym}/docker
TARBALL="$CACHE/rootfs-$SUITE-$(printf '%s' "$PACKAGES v1" | sha256sum | cut -c1-12).tar"
mkdir -p "$CACHE"
if [ ! -s "$TARBALL" ]; then
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  mirror=${mirror:-http://deb.debian.org/debian}
  root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  log "debootstrap --variant=minbase $SUITE from $mirror (once; cached in $TARBALL)"
  start=$(date +%s)
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -20 "$root.log" >&2; echo "[docker] debootstrap failed (log above)" >&2; exit 1; }
  rm -f "$root.log"
  # a stand-in conda: the official eval scripts activate the `testbed` env; here the system Python is that env
  mkdir -p "$root/opt/miniconda3/bin" "$root/testbed"
  printf '# stand-in for conda activation (aemgym base image)\n' >"$root/opt/miniconda3/bin/activate"
  printf '#!/bin/sh\n# stand-in conda: activation is a no-op in the aemgym base image\nexit 0\n' >"$root/usr/local/bin/conda"
  chmod 755 "$root/usr/local/bin/conda"
  printf 'conda() { :; }\n' >>"$root/root/.bashrc"
  ln -sf python3 "$root/usr/bin/python"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" --numeric-owner -cf "$TARBALL.part" .
  mv "$TARBALL.part" "$TARBALL"
  rm -rf "$root"
  trap - EXIT
  log "rootfs built in $(( $(date +%s) - start )) s"
fi
started=$(bash scripts/docker-engine.sh start)
trap '[ "$started" = started ] && bash scripts/docker-engine.sh stop >/dev/null' EXIT
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "docker import $IMAGE"
  docker import -c 'WORKDIR /testbed' -c 'CMD ["sleep", "infinity"]' "$TARBALL" "$IMAGE" >/dev/null
fi
log "ok: $(docker version --format 'engine {{.Server.Version}}'), image $IMAGE"
