"""lbgap.book's shared pieces: the notebook context, the paper's tables, the cell formats, the coverage lines, and
the shape every notebook shares (a parameters cell, one ``context(...)`` call, then one call per table or figure)."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from lbgap.book import context as book_context
from lbgap.book import coverage, paper, style
from lbgap.core import paths

NOTEBOOKS = [paths.REPO_ROOT / "intro.ipynb", *sorted((paths.REPO_ROOT / "chapters").glob("*.ipynb"))]


def test_context_reads_in_results_mode_and_computes_otherwise(tmp_path):
    calls = []
    ctx = book_context.context("results", tmp_path, seeds=3, nets="F1,C3", compute=calls.append)
    assert calls == [] and not ctx.run and ctx.record_profiles == ("paper", "quick")
    assert ctx.seeds == [3] and ctx.nets == ["F1", "C3"]   # papermill passes `-p seeds 3` as an int
    smoke = book_context.context("smoke", tmp_path, device="cuda", seeds="0-4", compute=calls.append)
    assert calls == [smoke] and smoke.device == "cpu" and smoke.run_profile == "smoke"
    assert book_context.shown_seeds(smoke) == [0, 1] and book_context.shown_nets(smoke) == ["F1", "C1"]
    with pytest.raises(ValueError, match="must be one of results, smoke, quick, paper"):
        book_context.context("fast", tmp_path)


def test_memo_makes_a_table_once_per_context(tmp_path):
    ctx = book_context.context("results", tmp_path)
    made = []
    assert ctx.memo("t", lambda: made.append(1) or len(made)) == 1
    assert ctx.memo("t", lambda: made.append(1) or len(made)) == 1 and made == [1]
    import dataclasses

    other = dataclasses.replace(ctx, record_profiles=("paper",))   # another context: its own tables
    assert other.memo("t", lambda: 7) == 7


def test_paper_table_reads_every_table_and_names_the_ones_there():
    assert paper.paper_tables() == [1, 2, 3, 4, 6, 7]
    nets = ["F1", "F2", "C1", "C2", "C3", "C4"]
    for n in (1, 2, 3, 4, 7):
        assert list(paper.paper_table(n).network) == nets, n
    assert list(paper.paper_table(6).network) == ["C1", "C2", "C3", "C4"]
    assert paper.paper_table(2).set_index("network").loc["F1", "test_acc_sb_mean"] == 98.03
    assert paper.paper_table(3).set_index("network").loc["F1", "lb_eps1e-3_mean"] == 205.14
    with pytest.raises(ValueError, match=r"Table 5 is not in .*\(there: Tables 1, 2, 3, 4, 6, 7\)"):
        paper.paper_table(5)


def test_cell_formats():
    assert style.pm(99.0, 1.0) == "99.00 ± 1.00" and style.pm(4.0, float("nan")) == "4.00"
    assert style.pm(40.123, 10.0, 1) == "40.1 ± 10.0"
    assert style.pm_over(pd.Series([1.0, 2.0, 3.0, None])) == "2 ± 1"
    assert style.pm_over(pd.Series([0.5, None]), "{:+.2f}") == "+0.50" and style.pm_over(pd.Series([None])) == "—"
    assert style.num(float("nan"), "{:.1f}") == "—" and style.num(None, "{:.1f}") == "—"
    assert style.num(1234.5, "{:,.0f}") == "1,234"
    html = style.styled(pd.DataFrame({"net": ["F1"], "verdict": ["long words"]}), "Caption", "uid").data
    assert "<caption>Caption</caption>" in html and 'class="data row0 col1 verdict"' in html


def test_coverage_lines(capsys, tmp_path):
    coverage.print_networks({"F1": "seeds [0, 1]"}, "landscape")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "F1: seeds [0, 1]" and len(lines) == 6
    assert lines[2] == f"C1: no landscape records: {coverage.MISSING_REASON['C1']}"
    ctx = book_context.context("results", tmp_path, nets="F1,F2,C3")
    df = pd.DataFrame({"net": ["F1", "F1"], "profile": ["quick", "quick"]})
    coverage.print_figure_runs(ctx, df, "Figure 4", "runs")
    assert capsys.readouterr().out.splitlines() == [
        "F1: quick profile, 2 runs", "F2: no Figure 4 records (the paper's network: GPU work)",
        "C3: no Figure 4 records"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_one_context_and_no_helpers_of_its_own(nb):
    cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    assert "install-lbgap" in cells[0]["metadata"].get("tags", [])   # the launch buttons' install cell (test_book_sources)
    cells = cells[1:]
    assert "parameters" in cells[0]["metadata"].get("tags", [])
    code = ["".join(c["source"]) for c in cells[1:]]
    assert sum(s.count("context(") for s in code) == 1 and "ctx = context(" in code[0]
    assert not any(line.lstrip().startswith(("def ", "for ", "if ", "class ")) for s in code for line in s.splitlines())
    assert all(len(s.splitlines()) == 1 for s in code[1:]), "one call per table or figure"
