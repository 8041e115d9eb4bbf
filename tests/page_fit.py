"""What a reader sees at a given window width: a headless Chromium opens each built page (a copy with a measuring
script added) and reports the article column's width, the page height, and every table, text output, code block,
formula or figure that does not fit the column: it sticks out past the column's right edge, or it sits in a box that
scrolls sideways (content wider than the box), or a figure is shrunk so far that its labels become unreadable is
checked elsewhere (``tests/test_book_figures.py``).

Run as a script on a built book to print the numbers: ``python tests/page_fit.py _build/html [--width 1280]``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM") or next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)

# Runs in the page after it has loaded (and MathJax has typeset): measures, then writes JSON into a <pre>.
MEASURE_JS = r"""
<script>
window.addEventListener('load', () => setTimeout(() => {
  const col = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const cs = getComputedStyle(col);
  const box = col.getBoundingClientRect();
  const right = box.right - parseFloat(cs.paddingRight) + 1;
  const what = 'table, pre, img, svg, .output, .cell_output > div, mjx-container[display="true"], .MathJax_Display,'
             + ' .pst-scrollable-table-container, .table-wrapper, div.highlight, div.math';
  const bad = [];
  for (const el of col.querySelectorAll(what)) {
    if (el.closest('.cell_input, details:not([open]), .toggle-hidden, [hidden]')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;          // not displayed
    if (bad.some(b => b.el.contains(el))) continue;         // inside a box already counted
    const ox = getComputedStyle(el).overflowX;
    const scrolls = (ox === 'auto' || ox === 'scroll' || ox === 'hidden') && el.scrollWidth > el.clientWidth + 2;
    const sticks = r.right > right;
    if (scrolls || sticks) {
      const text = (el.innerText || el.getAttribute('alt') || el.tagName).trim().replace(/\s+/g, ' ').slice(0, 70);
      bad.push({el, tag: el.tagName.toLowerCase(), cls: (el.className && el.className.baseVal === undefined)
                ? String(el.className).slice(0, 60) : '', width: Math.round(scrolls ? el.scrollWidth : r.width),
                room: Math.round(scrolls ? el.clientWidth : right - r.left), text});
    }
  }
  const out = document.createElement('pre');
  out.id = 'lbgap-fit';
  out.textContent = JSON.stringify({column: Math.round(box.width - parseFloat(cs.paddingLeft)
      - parseFloat(cs.paddingRight)), height: document.documentElement.scrollHeight,
      clipped: bad.map(({el, ...rest}) => rest)});
  document.body.appendChild(out);
}, 1500));
</script>
"""


def measure(page: Path, width: int = 1280, height: int = 900) -> dict:
    """Open ``page`` (a built HTML file) at ``width`` x ``height`` px and return ``{column, height, clipped}``:
    the article column's content width, the page's height and the list of elements that do not fit."""
    if CHROMIUM is None:
        raise RuntimeError("Chromium not found: install it (Debian: `apt-get install chromium`) or set CHROMIUM")
    html = page.read_text(encoding="utf-8")
    probe = page.with_name(f".fit-{page.stem}.html")          # beside the page, so its relative links resolve
    probe.write_text(html.replace("</body>", MEASURE_JS + "</body>", 1), encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory() as profile_dir:
            r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                "--no-first-run", f"--user-data-dir={profile_dir}", "--virtual-time-budget=8000",
                                f"--window-size={width},{height}", "--dump-dom", probe.as_uri()],
                               capture_output=True, text=True, timeout=180)
    finally:
        probe.unlink(missing_ok=True)
    m = re.search(r'<pre id="lbgap-fit">(.*?)</pre>', r.stdout, re.S)
    if not m:
        raise RuntimeError(f"no measurement came back from {page.name}: {r.stderr[-500:]}")
    import html as htmlmod
    return json.loads(htmlmod.unescape(m.group(1)))


def pages(html_dir: Path) -> list[Path]:
    """The book's content pages (search, genindex and redirects left out)."""
    skip = {"search.html", "genindex.html", "index.html"}
    return sorted(p for p in html_dir.rglob("*.html") if p.name not in skip and "_static" not in p.parts
                  and not p.name.startswith(".fit-"))


def main(argv: list[str]) -> int:
    html_dir = Path(argv[0])
    width = int(argv[argv.index("--width") + 1]) if "--width" in argv else 1280
    total = 0
    for page in pages(html_dir):
        m = measure(page, width)
        total += len(m["clipped"])
        print(f"{str(page.relative_to(html_dir)):40s} column {m['column']:4d} px  height {m['height']:6d} px  "
              f"clipped {len(m['clipped'])}")
        for c in m["clipped"]:
            print(f"    {c['tag']:6s} {c['cls'][:30]:30s} {c['width']:5d} px in {c['room']:4d} px  {c['text']}")
    print(f"total clipped: {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
