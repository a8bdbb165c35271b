"""The font files the PDF embeds in place of the 公文 faces named in the Word document.

No free 方正 or 中易 face is packaged by Debian. The Fandol family (FandolFang 仿宋, FandolKai 楷体,
FandolHei 黑体, FandolSong 宋体 — free OpenType faces for simplified Chinese from the CTeX
project) is: Debian ships it in `texlive-lang-chinese`, which `scripts/ensure-report-tools.sh`
installs. The title's 小标宋 is set in Noto Serif CJK SC bold (fonts-noto-cjk), the closest
heavy Song face packaged. Characters a Fandol face lacks (it covers GB 2312 and a little more)
fall back to Noto Serif CJK SC.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

SEARCH = (Path("/usr/share/texlive/texmf-dist/fonts/opentype/public/fandol"),
          Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FACES = {  # CSS family used in the PDF → file
    "XN FangSong": "FandolFang-Regular.otf",
    "XN Kai": "FandolKai-Regular.otf",
    "XN Hei": "FandolHei-Regular.otf",
    "XN Song": "FandolSong-Regular.otf",
}


@lru_cache(maxsize=8)
def font_file(name: str) -> Path | None:
    for d in SEARCH:
        if (d / name).exists():
            return d / name
        if d.exists() and d != SEARCH[0]:
            hits = sorted(d.rglob(name))
            if hits:
                return hits[0]
    return None


def missing() -> list[str]:
    return [f for f in FACES.values() if font_file(f) is None]


def font_face_css() -> str:
    """@font-face rules for the faces found (the others fall back to Noto CJK)."""
    rules = []
    for family, name in FACES.items():
        path = font_file(name)
        if path is not None:
            rules.append(f'@font-face {{ font-family: "{family}"; src: url("{path.as_uri()}"); }}')
    return "\n".join(rules)
