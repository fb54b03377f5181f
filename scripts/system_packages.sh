#!/usr/bin/env bash
# System packages the tests and the app need: chromium (browser tests), npm (axe-core for the
# accessibility check). Installed with apt-get when missing and running as root on Debian; otherwise
# one line says what to install. Usage: scripts/system_packages.sh [test]
set -uo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
    && exit 0
  echo "system packages could not be installed (${need[*]}): install them with 'apt-get install ${need[*]}' and run the command again." >&2
  exit 1
fi
echo "missing system packages: ${need[*]}. Install them (Debian: 'sudo apt-get install ${need[*]}') and run the command again." >&2
exit 1
