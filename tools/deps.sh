#!/usr/bin/env bash
# Install the Debian packages tokenward builds, tests and benchmarks with.
# Idempotent: asks dpkg first and calls apt-get only for what is missing.
set -euo pipefail

pkgs=(
  build-essential pkg-config clang llvm bpftool libclang-rt-dev
  libbpf-dev libelf-dev zlib1g-dev libpcre2-dev libcjson-dev libyaml-dev
  libsqlite3-dev libcurl4-openssl-dev libssl-dev libcmocka-dev libnghttp2-dev libsystemd-dev
  nghttp2-client nghttp2-server
  iproute2 procps util-linux python3 strace
  nodejs redis-server redis-tools ripgrep openssl curl time gzip
  golang-go gnutls-bin libgnutls28-dev
  prometheus rsyslog logrotate systemd man-db groff-base
  chromium
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "tokenward: missing packages: ${missing[*]} (run 'make deps' as root)" >&2
  exit 2
fi
echo "tokenward: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
