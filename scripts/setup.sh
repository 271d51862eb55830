#!/usr/bin/env bash
# Installs everything wirespan needs on a fresh Debian machine: pnpm (pinned), the workspace
# (which builds the TUN addon), and, as root, the system tools the interop tests and the
# benchmark use (wireguard-go, wireguard-tools, iperf3, iproute2, iptables; libfaketime for the
# soak's wall-clock steps; openssl for the discovery TLS test's certificate).
set -euo pipefail
cd "$(dirname "$0")/.."

pnpm_version=$(node -p "require('./package.json').packageManager.split('@')[1]")
if [ "$(pnpm -v 2>/dev/null || true)" != "$pnpm_version" ]; then
  npm install -g "pnpm@${pnpm_version}"
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  need=()
  for pkg in wireguard-go wireguard-tools iperf3 iproute2 iptables nftables tcpdump iputils-ping procps util-linux libfaketime g++ make python3 curl openssl; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
fi

pnpm install --frozen-lockfile
