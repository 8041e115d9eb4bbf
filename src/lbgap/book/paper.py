"""The paper's numbers (Keskar et al., 2017), typed once into ``data/paper/table<N>.csv``: Table 1 (networks),
2 (SB/LB accuracy), 3 and 4 (ε-sharpness, full space and random subspace), 6 (data augmentation) and 7
(conservative training). Each file's ``source`` column names the table; ``#`` lines are notes. Tables 6
and 7 are recalled from notes: their cells are unverified against the PDF except where their ``verified`` column says."""
from __future__ import annotations

from lbgap.core import paths


def paper_tables() -> list[int]:
    """The numbers of the paper's tables typed into data/paper."""
    return sorted(int(p.stem[len("table"):]) for p in paths.PAPER_DIR.glob("table*.csv")
                  if p.stem[len("table"):].isdigit())


def paper_table(number: int):
    """The paper's Table ``number`` as typed in ``data/paper/table<number>.csv``."""
    import pandas as pd

    path = paths.PAPER_DIR / f"table{number}.csv"
    if not path.is_file():
        raise ValueError(f"the paper's Table {number} is not in {paths.PAPER_DIR} (there: Tables "
                         f"{', '.join(map(str, paper_tables()))}); its reference numbers live in data/paper/*.csv")
    return pd.read_csv(path, comment="#")
