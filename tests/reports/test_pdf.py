"""The PDF is faithful to the .docx: 仿宋 and 楷体 faces embedded (Fandol, from Debian), no table
column overprinting the next (word boxes from poppler's `pdftotext -bbox` never overlap), text
in tables at 9 pt or more, 28 characters a line, page numbers 7 mm under the text block and one
character in, the 版记 at the foot of the last page. City, county and sector bulletins are
rendered; their pages are kept as PNG artifacts (tests/reports/artifacts/) to look at."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from metrics.bulletin import build_bulletin, parse_scope
from reports.pdf_render import render_pdf
from tests.reports.conftest import ISSUED, MONTH

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
MM = 72 / 25.4
PAGE_W, PAGE_H = 210 * MM, 297 * MM
BLOCK = {"left": 28 * MM, "right": PAGE_W - 26 * MM, "top": 37 * MM, "bottom": PAGE_H - 35 * MM}
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                  r"([^<]*)</word>")


def _words(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    return [[(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in WORD.findall(page)]
            for page in out.split("<page ")[1:]]


def overlaps(words, tol: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of words whose boxes overlap both ways by more than `tol` pt (overprint)."""
    out = []
    ordered = sorted(words)
    for i, (x0, y0, x1, y1, w) in enumerate(ordered):
        for a0, b0, a1, b1, v in ordered[i + 1:]:
            if a0 >= x1 - tol:
                break
            if min(x1, a1) - max(x0, a0) > tol and min(y1, b1) - max(y0, b0) > tol:
                out.append((w, v))
    return out


@pytest.fixture(scope="module")
def pdfs(demo_engine, city_bulletin, report_tools, tmp_path_factory) -> dict[str, Path]:
    out = {}
    d = tmp_path_factory.mktemp("pdf")
    for name, text in (("city", None), ("county", "county:331221"), ("sector", "sector:市场监管")):
        b = city_bulletin if text is None else build_bulletin(
            demo_engine, MONTH, parse_scope(demo_engine, text), issued_on=ISSUED)
        path = d / f"{name}.pdf"
        path.write_bytes(render_pdf(b, built_at=dt.datetime(2025, 6, 3, 9, 30)))
        out[name] = path
    return out


def test_pdf_embeds_the_fangsong_and_kai_faces(pdfs):
    for path in pdfs.values():
        fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                               check=True).stdout.splitlines()[2:]
        for line in fonts:
            assert re.search(r"\byes\s+yes\s+yes\b", line), f"not embedded+subset: {line}"
        names = " ".join(line.split()[0] for line in fonts)
        assert "FangSong" in names and "Kai" in names and "Hei" in names, names
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "\ufffd" not in text


def test_no_word_overprints_another_and_tables_are_9pt_or_more(pdfs):
    for name, path in pdfs.items():
        for k, page in enumerate(_words(path), start=1):
            assert overlaps(page) == [], (name, k)
            heights = [y1 - y0 for _, y0, _, y1, _ in page]
            assert min(heights) >= 8.9, (name, k, min(heights))  # em box of ≥ 9 pt text
            # nothing outside the text block but the page number under it
            for x0, y0, x1, _y1, w in page:
                assert BLOCK["left"] - 0.5 <= x0 and x1 <= BLOCK["right"] + 0.5, (name, k, w)
                assert BLOCK["top"] - 0.5 <= y0, (name, k, w)


def test_body_lines_hold_28_characters(pdfs):
    words = [w for page in _words(pdfs["city"])[:4] for w in page]
    full = [w for x0, _, x1, _, w in words if x0 == pytest.approx(BLOCK["left"], abs=0.5)
            and x1 > BLOCK["right"] - 16 and re.fullmatch(r"[\u4e00-\u9fff，、；。“”《》：（）]+", w)]
    assert len(full) >= 3 and all(len(w) == 28 for w in full), full


def test_page_numbers_sit_7mm_under_the_text_block_one_character_in(pdfs):
    for path in pdfs.values():
        for k, page in enumerate(_words(path), start=1):
            dashes = sorted((x0, y0, x1, y1) for x0, y0, x1, y1, w in page
                            if w == "—" and y0 > BLOCK["bottom"])
            assert len(dashes) == 2, k
            middle = (dashes[0][1] + dashes[0][3]) / 2
            assert (middle - BLOCK["bottom"]) / MM == pytest.approx(7, abs=0.5)
            if k % 2:  # odd pages: on the right, one 14 pt character in
                assert dashes[-1][2] == pytest.approx(BLOCK["right"] - 14, abs=1)
            else:
                assert dashes[0][0] == pytest.approx(BLOCK["left"] + 14, abs=1)
            number = [w for x0, y0, x1, y1, w in page if y0 > BLOCK["bottom"] and w != "—"]
            assert number == [str(k)]


def test_imprint_sits_at_the_foot_of_the_last_page(pdfs, city_bulletin):
    last = _words(pdfs["city"])[-1]
    printed = [w for w in last if w[4].endswith("印发")]
    assert printed and printed[0][3] > BLOCK["bottom"] - 6 * MM
    assert any(w[4].startswith("抄送：") for w in last)


def test_pages_are_kept_as_png_to_look_at(pdfs, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    for name, path in pdfs.items():
        pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
            ["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout)[1])
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(path), str(tmp_path / name)],
                       check=True)
        pngs = sorted(tmp_path.glob(f"{name}-*.png"))
        assert len(pngs) == pages and all(p.stat().st_size > 5_000 for p in pngs)
        for p in pngs:
            shutil.copy(p, ARTIFACTS / f"bulletin_{p.name}")
        shutil.copy(path, ARTIFACTS / f"bulletin_{name}.pdf")
