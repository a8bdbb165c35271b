#!/usr/bin/env bash
# Make sure the browser test can run: Debian `chromium` and a CJK font (fonts-noto-cjk), so
# screenshots show Chinese rather than tofu boxes. Installs with apt-get when missing and
# running as root; otherwise says what to install and fails.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ! (command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh family 2>/dev/null | grep -qi "Noto Sans CJK"); then
  need+=(fonts-noto-cjk)
fi
[ "${#need[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-browser: missing ${need[*]}; install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
echo "ensure-browser: installing ${need[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" fontconfig
