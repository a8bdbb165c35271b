#!/usr/bin/env bash
# Make sure the system pieces the bulletin needs are present (Debian packages):
#   fonts-noto-cjk      CJK fonts embedded in the PDF (and used for chart labels)
#   libpango-1.0-0 libpangoft2-1.0-0  text layout used by WeasyPrint (PDF renderer)
#   poppler-utils       pdftoppm / pdffonts, used by the tests to check the PDF
# Installs only what is missing, and only when running as root with apt-get available;
# otherwise it prints what is missing and exits 1 so a caller can skip or fail clearly.
set -euo pipefail

need=()
have_font() { fc-list 2>/dev/null | grep -q "Noto Serif CJK SC" || ls /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc >/dev/null 2>&1; }
have_font || need+=(fonts-noto-cjk)
ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so.0' || need+=(libpango-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || need+=(libpangoft2-1.0-0)
command -v pdftoppm >/dev/null 2>&1 && command -v pdffonts >/dev/null 2>&1 || need+=(poppler-utils)
command -v fc-list >/dev/null 2>&1 || need+=(fontconfig)

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-report-tools: missing ${need[*]} (install them with apt-get as root)" >&2
    exit 1
fi
echo "ensure-report-tools: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
