#!/usr/bin/env bash
# Make sure the system pieces the bulletin needs are present (Debian packages):
#   fonts-noto-cjk      CJK fonts for the PDF's title and fallbacks, and the chart labels
#   texlive-lang-chinese  the Fandol faces (FandolFang 仿宋, FandolKai 楷体, FandolHei 黑体,
#                       FandolSong 宋体) the PDF embeds for the 公文 faces (GB/T 9704)
#   libpango-1.0-0 libpangoft2-1.0-0  text layout used by WeasyPrint (PDF renderer)
#   poppler-utils       pdftoppm / pdffonts / pdftotext, used by the tests to check the PDF
# Installs only what is missing, and only when running as root with apt-get available;
# otherwise it prints what is missing and exits 1 so a caller can skip or fail clearly.
# As root it also maps the Word document's face names (仿宋, 楷体, 黑体, 宋体, 方正小标宋简体)
# to those faces for fontconfig, so LibreOffice shows a .docx as Word on a Chinese desktop would.
set -euo pipefail

FANDOL=/usr/share/texlive/texmf-dist/fonts/opentype/public/fandol
need=()
have_font() { fc-list 2>/dev/null | grep -q "Noto Serif CJK SC" || ls /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc >/dev/null 2>&1; }
have_font || need+=(fonts-noto-cjk)
[ -f "$FANDOL/FandolFang-Regular.otf" ] && [ -f "$FANDOL/FandolKai-Regular.otf" ] || need+=(texlive-lang-chinese)
ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so.0' || need+=(libpango-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || need+=(libpangoft2-1.0-0)
command -v pdftoppm >/dev/null 2>&1 && command -v pdffonts >/dev/null 2>&1 || need+=(poppler-utils)
command -v fc-list >/dev/null 2>&1 || need+=(fontconfig)

if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "ensure-report-tools: missing ${need[*]} (install them with apt-get as root)" >&2
        exit 1
    fi
    echo "ensure-report-tools: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# fontconfig names for the 公文 faces (root only; harmless to repeat)
CONF=/etc/fonts/conf.d/65-xiaoneng-gongwen.conf
if [ "$(id -u)" = "0" ] && [ ! -f "$CONF" ] && [ -d "$FANDOL" ]; then
    mkdir -p /usr/local/share/fonts
    ln -sfn "$FANDOL" /usr/local/share/fonts/fandol
    fc_alias() {  # fc_alias NAME FAMILY
        printf '  <alias binding="same"><family>%s</family><prefer><family>%s</family></prefer></alias>\n' "$1" "$2"
    }
    {
        echo '<?xml version="1.0"?>'
        echo '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
        echo '<fontconfig>'
        for n in 仿宋 仿宋_GB2312 FangSong FangSong_GB2312; do fc_alias "$n" FandolFang; done
        for n in 楷体 楷体_GB2312 KaiTi KaiTi_GB2312; do fc_alias "$n" FandolKai; done
        for n in 黑体 SimHei; do fc_alias "$n" FandolHei; done
        for n in 宋体 SimSun; do fc_alias "$n" FandolSong; done
        for n in 方正小标宋简体 方正小标宋_GBK FZXiaoBiaoSong-B05S; do fc_alias "$n" "Noto Serif CJK SC"; done
        echo '</fontconfig>'
    } > "$CONF"
    fc-cache -f >/dev/null 2>&1 || true
fi
exit 0
