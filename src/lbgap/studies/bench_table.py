"""``lbgap bench``'s records as a table (the reproducibility chapter's bench tables and ``lbgap status``): one row
per record of :mod:`lbgap.studies.bench`, with fixed column names."""
from __future__ import annotations

from pathlib import Path

from lbgap.core import records


def bench_table(results_dir: str | Path | None = None, profile: str | None = None):
    """One row per bench record (reproducibility chapter): device, net, batch, samples/s ours and baseline,
    ratio, TFLOP/s and share of the measured peak, eval and sharpness times where measured."""
    import pandas as pd

    rows = []
    for r in records.iter_records(results_dir, profile, "bench"):
        if r.get("kind") == "bench":
            rows.append(dict(
                device=r["provenance"]["device"], net=r["net"], regime=r.get("regime") or f"B{r['batch_size']}",
                batch_size=r["batch_size"], n_samples=r["n_samples"], data=r["data_source"],
                compile=r["compile"], ours_samples_per_s=r["ours"]["samples_per_s"],
                baseline_samples_per_s=(r.get("baseline") or {}).get("samples_per_s"), speedup=r.get("speedup"),
                ours_tflops=r["ours_tflops"], peak_tflops=r["peak_tflops"], peak_dtype=r["peak_dtype"],
                mfu=r["ours_mfu"], warmup_s=r["ours"]["warmup_s"],
                eval_samples_per_s=r.get("eval_samples_per_s"), eval_samples_per_s_tf32=r.get("eval_samples_per_s_tf32"),
                concurrent=(r.get("concurrent") or {}).get("processes"),
                concurrent_samples_per_s=(r.get("concurrent") or {}).get("aggregate_samples_per_s"),
                stacked=(r.get("stacked") or {}).get("models"),
                stacked_samples_per_s=(r.get("stacked") or {}).get("aggregate_samples_per_s"),
                streams=(r.get("streams") or {}).get("models"),
                streams_cuda=(r.get("streams") or {}).get("streams"),
                streams_samples_per_s=(r.get("streams") or {}).get("aggregate_samples_per_s"),
                sharpness_s=r.get("sharpness_s"), sharpness_scipy_s=r.get("sharpness_scipy_s"),
                sharpness_speedup=r.get("sharpness_speedup"), sharpness_params=r.get("sharpness_params"),
                precision_check_diff=(r.get("precision_check") or {}).get("diff"),
                threads=r.get("threads"), host_load_1min=r.get("host_load_1min"), git_commit=r["provenance"]["git_commit"]))
    return pd.DataFrame(rows)
