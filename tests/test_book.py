"""The book builds offline and strictly (``-W -n --keep-going``) from the committed notebooks, the SB/LB chapter
shows Table 2 with its caption and numbers (the paper's and, for every network with records, ours), and a
headless Chromium renders the page to a non-blank screenshot and finds, at a 1280 px window, every table, text
output, formula and figure of every page inside the article column (``page_fit``). Without Chromium the browser
checks are skipped.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lbgap.book import sb_vs_lb
from lbgap.book.context import context
from lbgap.book.paper import paper_table
from lbgap.book.style import COLUMN_PX
from lbgap.core import paths

import page_fit  # tests/page_fit.py

ROOT = paths.REPO_ROOT
CHROMIUM = os.environ.get("CHROMIUM") or next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
INSTALL_HINT = ("Chromium not found: install it (Debian/Ubuntu: `sudo apt-get install --no-install-recommends "
                "chromium`; .ci/run does this) or point CHROMIUM=/path/to/chrome at one")


@pytest.fixture(scope="module")
def html_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    r = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
                       cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"jupyter-book build failed:\n{r.stdout[-5000:]}\n{r.stderr[-3000:]}"
    return out / "_build" / "html"


@pytest.mark.slow
def test_book_pages_exist(html_dir):
    for page in ("intro.html", "chapters/sb_vs_lb.html", "chapters/reproducibility.html", "references.html"):
        assert (html_dir / page).is_file(), page
    assert (html_dir / "_static" / "mathjax" / "tex-svg.js").is_file()  # math renders offline


@pytest.mark.slow
def test_table2_caption_and_numbers_in_html(html_dir):
    html = (html_dir / "chapters" / "sb_vs_lb.html").read_text(encoding="utf-8")
    assert "Table 2: train and test accuracy (%) of SB and LB Adam" in html
    assert "Table 1: network configurations" in html
    for _, p in paper_table(2).iterrows():  # the paper's numbers, as typed in data/paper
        for m in ("train_acc_sb", "train_acc_lb", "test_acc_sb", "test_acc_lb"):
            assert f"{p[m + '_mean']:.2f} ± {p[m + '_std']:.2f}" in html, (p.network, m)
    ours = sb_vs_lb.table2(context("results"))  # ours, recomputed from the committed records
    for _, row in ours[ours["runs"].str.startswith("ours")].iterrows():
        for col in ("train SB", "train LB", "test SB", "test LB", "gap SB−LB"):
            assert row[col] in html, (row.network, col, row[col])


@pytest.mark.slow
def test_screenshot_of_sb_vs_lb_page(html_dir):
    if CHROMIUM is None:
        pytest.skip(INSTALL_HINT)
    from PIL import Image, ImageStat

    png = html_dir.parent / "sb_vs_lb.png"
    with tempfile.TemporaryDirectory() as profile_dir:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                        f"--user-data-dir={profile_dir}", "--virtual-time-budget=5000", "--hide-scrollbars",
                        f"--screenshot={png}", "--window-size=1280,2400",
                        (html_dir / "chapters" / "sb_vs_lb.html").as_uri()],
                       capture_output=True, text=True, timeout=180)
    assert png.is_file() and png.stat().st_size > 10_000, "Chromium wrote no screenshot"
    img = Image.open(png).convert("RGB")
    assert img.size == (1280, 2400)
    spread = ImageStat.Stat(img.convert("L")).stddev[0]
    colours = len(img.getcolors(maxcolors=1 << 20) or [])
    assert spread > 10 and colours > 50, f"blank-looking screenshot (grey stddev {spread:.1f}, {colours} colours)"
    keep = os.environ.get("LBGAP_SCREENSHOT")  # e.g. LBGAP_SCREENSHOT=/tmp/sb_vs_lb.png to look at it
    if keep:
        shutil.copy(png, keep)


@pytest.mark.slow
def test_every_page_fits_the_column_at_1280px(html_dir):
    """No table, text output, formula or figure sticks out of the article column or scrolls sideways at 1280 px,
    and the column is as wide as the figures assume (``style.COLUMN_PX``)."""
    if CHROMIUM is None:
        pytest.skip(INSTALL_HINT)
    report = {}
    for page in page_fit.pages(html_dir):
        m = page_fit.measure(page, width=1280)
        assert m["column"] >= COLUMN_PX - 4, f"{page.name}: article column {m['column']} px < {COLUMN_PX} px"
        if m["clipped"]:
            report[str(page.relative_to(html_dir))] = [f"{c['tag']} {c['width']} px in {c['room']} px: {c['text']}"
                                                       for c in m["clipped"]]
    assert not report, "clipped at 1280 px:\n" + "\n".join(f"{p}: {x}" for p, xs in report.items() for x in xs)


@pytest.mark.slow
def test_page_fit_finds_an_over_wide_table(html_dir, tmp_path):
    """The check can fail: a page with a deliberately over-wide table (30 columns of numbers) and an over-long
    unbreakable formula is reported; the same page without them is not."""
    if CHROMIUM is None:
        pytest.skip(INSTALL_HINT)
    src = (html_dir / "references.html").read_text(encoding="utf-8")
    wide = "<table><tr>" + "".join(f"<td style='white-space:nowrap'>{i}.123456 ± 0.1</td>" for i in range(30))
    page = html_dir / "wide-probe.html"
    try:
        page.write_text(src.replace("</article>", f"<div class='output text_html'>{wide}</tr></table></div></article>", 1),
                        encoding="utf-8")
        clipped = page_fit.measure(page)["clipped"]
        assert clipped and clipped[0]["width"] > 2 * COLUMN_PX, clipped
        assert "0.123456" in clipped[0]["text"]
        page.write_text(src, encoding="utf-8")
        assert page_fit.measure(page)["clipped"] == []
    finally:
        page.unlink(missing_ok=True)


def text_dumps(html: str) -> list[str]:
    """The text-dump tables and missing-value cells of one built page: a ``pre`` output (a notebook's printed
    text) of which at least three lines, and at least half, have two or more gaps of two or more spaces between
    words (columns padded for alignment, as pandas' ``to_string`` prints them), and any table cell reading
    NaN/nan. Each as a short description."""
    import re
    from html import unescape

    found = []
    for block in re.findall(r"<pre[^>]*>(.*?)</pre>", html, flags=re.S):
        lines = [unescape(re.sub(r"<[^>]+>", "", x)) for x in block.splitlines() if x.strip()]
        tabular = [x for x in lines if len(re.findall(r"\S {2,}(?=\S)", x.strip())) >= 2]
        if len(tabular) >= 3 and 2 * len(tabular) >= len(lines):
            found.append(f"aligned text columns: {lines[0][:60]!r}")
    for c in re.findall(r"<t[dh][^>]*>\s*(NaN|nan)\s*</t[dh]>", html):
        found.append(f"cell {c!r}")
    return found


def test_text_dumps_are_found():
    dump = ("<pre>                  lrs    seeds  runs\noptimizer batch_size\nadam      16   0.0003, 0.001  0, 1, 2     9\n"
            "          32   0.0003, 0.001  0, 1, 2     9\n          64   0.001, 0.003  0, 1, 2     9</pre>")
    assert text_dumps(dump) and text_dumps("<table><tr><td>NaN</td></tr></table>")
    assert text_dumps("<pre>F1: paper profile, 5 seeds\nC1: quick profile</pre><td>—</td>") == []


@pytest.mark.slow
def test_no_text_dump_tables_and_no_nan_cells(html_dir):
    bad = {}
    for page in html_dir.rglob("*.html"):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        found = text_dumps(page.read_text(encoding="utf-8"))
        if found:
            bad[str(page.relative_to(html_dir))] = found[:3]
    assert not bad, f"text dumps or NaN cells: {bad}"
