"""``lbgap status``: what data and records exist, then one section per experiment (:data:`SECTIONS`)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import profile_name, results_arg


def add_parser(sub) -> None:
    p = sub.add_parser("status", help="what data and records exist")
    p.add_argument("--profile", default=None, type=profile_name, help="only this profile's training records: smoke | "
                   "quick | paper (default: every profile)")
    results_arg(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    import pandas as pd

    from lbgap.core import data, records

    root = records.store_root(a.results_dir)
    if root.exists() and not root.is_dir():
        raise records.StoreError(f"results dir {root} is a file, not a folder; give --results-dir a folder")
    print("Data cache:")
    print(pd.DataFrame(data.status()).to_string(index=False))
    bad: list[str] = []
    list(records.iter_records(a.results_dir, a.profile, None, bad))   # every malformed record, listed below
    df = records.train_table(a.results_dir, a.profile, bad=[])
    print("\nTraining records:" if len(df) else "\nTraining records: none")
    if len(df):
        # a variant (config tag: fig4, conservative, ...) is its own row, never counted with Table 2's runs
        g = df.groupby(["profile", "net", "regime", "variant"]).agg(
            runs=("seed", "size"), seeds=("seed", lambda s: ",".join(map(str, sorted(set(s))))),
            test_acc=("test_acc", "mean"), status=("status", lambda s: ",".join(sorted(set(s)))))
        print(g.to_string())
    missing = [n for n, d in (("C3", "cifar100"), ("C4", "cifar100")) if not any(r["dataset"] == d and r["usable"] != "no" and not r["usable"].startswith("no") for r in data.status())]
    if missing:
        print(f"\nNeeds CIFAR-100 (pixels not available here): {', '.join(missing)}; "
              "run `lbgap data download cifar100` where there is internet")
    for section in SECTIONS:
        for line in section(a.results_dir):
            print(line)
    if bad:
        print(f"\nMalformed records ({len(bad)}; not counted above, never taken as finished):")
        for line in bad:
            print(f"  {line}")
    return 0


# ----------------------------------------------------------------------- one section per experiment
# Each takes the record store (None: data/results) and returns its lines, none where there is nothing to say.
def _count(kind: str, label: str):
    def lines(results_dir) -> list[str]:
        from lbgap.core import records

        return records.count_lines(results_dir, kind, label, bad=[])   # malformed ones: listed at the end
    return lines


def _count_train(label: str, tag_matches):
    """Training records of one experiment, told apart by their config tag."""
    def lines(results_dir) -> list[str]:
        from lbgap.core import records

        n = sum(1 for r in records.iter_records(results_dir, None, "train", [])
                if tag_matches(r.get("config", {})))
        return [f"{label}: {n}"] if n else []
    return lines


def speech_lines(results_dir=None) -> list[str]:
    """Which speech data F2 can use here."""
    from lbgap.core import data
    from lbgap.core.speech import DESCRIPTION

    so = "cached" if data.cache_path("so762").is_file() else \
        "not imported (lbgap data import so762 --from ../shared/data)"
    ti = "cached (use --dataset timit)" if data.cache_path("timit").is_file() else \
        "not imported (bring your own LDC93S1: lbgap data import timit --from DIR)"
    return [f"\nF2 speech data: {DESCRIPTION['so762']} {so}; TIMIT {ti}"]


def _threshold_tag(config: dict) -> bool:
    from lbgap.studies.threshold import TAG

    return config.get("tag") == TAG


def _remedy_tag(config: dict) -> bool:
    from lbgap.studies.remedies import REMEDIES

    return config.get("tag") in REMEDIES


def _warmstart_tag(config: dict) -> bool:
    from lbgap.studies.warmstart import TAG

    return str(config.get("tag", "")).startswith(f"{TAG}-sb")


def bench_lines(results_dir=None) -> list[str]:
    from lbgap.studies.bench import bench_table

    try:
        df = bench_table(results_dir)
    except ValueError:
        return []
    if not len(df):
        return []
    lines = ["\nBench records:"]
    for r in df.itertuples():
        sp = f", {r.speedup:.1f}x the baseline" if r.speedup == r.speedup and r.speedup is not None else ""
        lines.append(f"  {r.net} b{r.batch_size} on {r.device}: {r.ours_samples_per_s:.0f} samples/s{sp}")
    return lines


def _repo_relative(path) -> str:
    from pathlib import Path

    from lbgap.core import paths

    path = Path(path).resolve()
    return str(path.relative_to(paths.REPO_ROOT)) if path.is_relative_to(paths.REPO_ROOT) else str(path)


def sweep_lines(results_dir=None) -> list[str]:
    """Per sweep: done / running / failed / missing, the runs in flight and the failing runs' error lines."""
    from pathlib import Path

    from lbgap.core import sweep

    sweeps = sweep.sweep_status(results_dir)
    if not sweeps:
        return []
    lines = ["\nSweeps:"]
    for s in sweeps:
        c = s["counts"]
        lines.append(f"  {s['name']} ({s['profile']}, {len(s['runs'])} runs, {s['executor']}, last started "
                     f"{s.get('updated', '?')[:16].replace('T', ' ')}): {c['done']} done, {c['running']} running, "
                     f"{c['failed']} failed, {c['missing']} missing")
        for run_id, state, info in s["runs"]:
            if state == "running":
                lines.append(f"    running  {run_id} on {info.get('host', '?')} (pid {info.get('pid', '?')}, "
                             f"heartbeat {info['age_s']:.0f} s ago)")
            elif state == "failed":
                where = [ln.strip() for ln in info.get("lines", []) if ln.strip().startswith("File ")]
                lines.append(f"    failed   {run_id} on {info.get('host', '?')} at {info.get('time', '?')[:16]}: "
                             f"{info.get('error', '?')}" + (f"\n             {where[-1]}" if where else ""))
            elif state == "missing" and info.get("stale_claim"):
                h = info["stale_claim"]
                lines.append(f"    missing  {run_id}: stale claim by {h.get('host', '?')} (pid {h.get('pid', '?')}), "
                             "will be redone")
        if Path(s["logs"]).is_dir():
            lines.append(f"    job logs: {_repo_relative(Path(s['logs']))}")
    return lines


SECTIONS = (
    _count("sharpness", "Sharpness records"),
    _count("landscape", "Landscape records"),
    speech_lines,
    _count("noise", "Gradient-noise records"),                # lbgap.measures.noise.KIND
    _count("steps", "Steps-to-target records"),               # lbgap.studies.steps.KIND
    _count_train("Figure 4 (batch-size threshold) runs", _threshold_tag),
    _count_train("Appendix E remedy runs (Tables 6-7)", _remedy_tag),
    _count("trajectory", "Figure 6 (sharpness along training) records"),
    _count_train("Figure 5 (warm-started LB) runs", _warmstart_tag),
    bench_lines,
    sweep_lines,
)
