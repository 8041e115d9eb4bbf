"""The reproducibility chapter: where, with what and how fast the records were computed (provenance, wall
time, GPU calls, throughput, bench), and runs recomputed with an unchanged configuration beside the original."""
from __future__ import annotations

from pathlib import Path

from lbgap.book.context import Context, all_records, original, shown_nets, shown_seeds, train_records
from lbgap.book.style import dropdown, fold_constant, num, show, styled
from lbgap.core.records import variant


def provenance_table(ctx: Context):
    """Where and with what the records were computed: one row per (profile, kind, device, CPU model and torch's
    kernel family, software); records older than the ``cpu`` field say "not recorded"."""
    import pandas as pd

    rows = []
    for r in all_records(ctx):
        p = r.get("provenance") or {}
        rows.append(dict(profile=r["_profile"], kind=r.get("kind", Path(r["_path"]).parent.name),
                         device=p.get("device", "?"), cpu=p.get("cpu", "not recorded"), torch=p.get("torch_version", "?"),
                         python=p.get("python", "?"), lbgap=p.get("lbgap_version", "?"),
                         commit=p.get("git_commit", "?")))
    if not rows:
        return pd.DataFrame(columns=["profile", "kind", "device", "cpu", "torch", "python", "lbgap", "commit",
                                     "records"])
    df = pd.DataFrame(rows)
    return df.groupby(list(df.columns), dropna=False).size().reset_index(name="records")


RERUN_TAG = "recheck"


# :func:`rerun_table`'s snake_case columns and their display labels (applied only when shown)
RERUN_LABELS = {"x0_loss_original": "x0 train loss (original)", "x0_loss_rerun": "x0 train loss (rerun)",
                "final_loss_original": "final train loss (original)", "final_loss_rerun": "final train loss (rerun)",
                "test_acc_original": "test acc % (original)", "test_acc_rerun": "test acc % (rerun)",
                "diff_pt": "rerun − original (pt)", "original_on": "original ran on", "rerun_on": "rerun ran on"}


def rerun_table(ctx: Context):
    """Runs recomputed with an unchanged configuration, typically on another machine (config tag "recheck", or
    "recheck-<tag>" for a variant: ``lbgap train ... --tag recheck``), each beside its original record: the
    training loss at x0 (before any step), the final training loss and test accuracy of both, and the CPU or GPU
    each ran on. Same configuration and seed, different float rounding: how far such a pair parts is the floor
    below which a difference between two variants of one seed means nothing. Columns: run and those of
    :data:`RERUN_LABELS`."""
    import pandas as pd

    cols = ["run", *RERUN_LABELS]

    def where(rec):
        p = rec.get("provenance") or {}
        return p.get("cpu") or p.get("device", "?") + " (CPU model not recorded)"

    train = train_records(all_records(ctx))
    rows = []
    for r in train.values():
        tag = r["config"].get("tag", "")
        if variant(tag) != RERUN_TAG:
            continue
        o = original(train, r, tag[len(RERUN_TAG):].lstrip("-"))
        if o is None:
            continue   # no original with the same configuration: nothing to compare with
        rows.append({"run": o["run_id"], "x0_loss_original": f"{o['history'][0]['train_loss']:.10g}",
                     "x0_loss_rerun": f"{r['history'][0]['train_loss']:.10g}",
                     "final_loss_original": f"{o['final']['train_loss']:.3g}",
                     "final_loss_rerun": f"{r['final']['train_loss']:.3g}",
                     "test_acc_original": f"{100 * o['final']['test_acc']:.2f}",
                     "test_acc_rerun": f"{100 * r['final']['test_acc']:.2f}",
                     "diff_pt": f"{100 * (r['final']['test_acc'] - o['final']['test_acc']):+.2f}",
                     "original_on": where(o), "rerun_on": where(r)})
    return pd.DataFrame(rows, columns=cols).sort_values("run").reset_index(drop=True)


def _wall_s(rec: dict) -> float:
    """Wall time of a record: its provenance's, or -- for records that grow piece by piece (sharpness entries and
    Hessian, landscape parts), whose provenance leaves it empty -- the sum of its pieces' own ``wall_s``."""
    w = (rec.get("provenance") or {}).get("wall_time_s")
    if w is not None:
        return float(w)
    pieces = list((rec.get("entries") or {}).values()) + list((rec.get("parts") or {}).values())
    pieces += [rec["hessian"]] if isinstance(rec.get("hessian"), dict) else []
    return float(sum(p.get("wall_s") or 0.0 for p in pieces if isinstance(p, dict)))


def timing_table(ctx: Context):
    """How long each kind of record took to compute (sum of the recorded wall times), per profile and device; a
    variant's training and sharpness records (a config ``tag``, e.g. Figure 4's "fig4") are counted apart, as
    "train (fig4)"."""
    import pandas as pd

    rows = []
    for r in all_records(ctx):
        p, c = r.get("provenance") or {}, r.get("config") if isinstance(r.get("config"), dict) else {}
        kind = r.get("kind", Path(r["_path"]).parent.name)
        kind += f" ({variant(c['tag'])})" if c.get("tag") and kind in ("train", "sharpness") else ""
        rows.append(dict(profile=r["_profile"], kind=kind,
                         net=str(c.get("net", r.get("net", "")) or ""),
                         regime=str(c.get("regime", r.get("regime", "")) or ""),
                         device=p.get("device", "?"), wall_s=_wall_s(r),
                         epochs=r.get("epochs")))
    if not rows:
        return pd.DataFrame(columns=["profile", "kind", "net", "regime", "device", "records", "epochs (mean)",
                                     "wall time (h)", "per record (min)"])
    df = pd.DataFrame(rows)
    df["epochs"] = pd.to_numeric(df.epochs, errors="coerce")
    df["wall_s"] = pd.to_numeric(df.wall_s, errors="coerce").fillna(0.0)
    g = df.groupby(["profile", "kind", "net", "regime", "device"], dropna=False)
    out = g.agg(records=("wall_s", "size"), epochs=("epochs", "mean"), wall=("wall_s", "sum")).reset_index()
    out["epochs (mean)"] = out.pop("epochs").map(lambda e: "" if e != e else f"{e:.1f}")
    out["wall time (h)"] = (out.wall / 3600).map("{:.2f}".format)
    out["per record (min)"] = (out.wall / 60 / out.records).map("{:.1f}".format)
    return out.drop(columns="wall")


def _gpu_calls(ctx: Context) -> list[dict]:
    """The records of the calls of ``scripts/gpu_paper.sh`` (kind ``gpu_call``) under the profiles the context
    reads, oldest first."""
    from lbgap.core.records import iter_records

    recs = []
    for prof in ctx.record_profiles:
        for r in iter_records(ctx.results_dir, prof, "gpu_call"):
            recs.append(dict(r, _profile=prof))
    return sorted(recs, key=lambda r: (r["provenance"].get("started") or "", r["run_id"]))


def _pairs_of(call: dict, status: str) -> list[str]:
    return [f"{p['net']} s{p['seed']}" for p in call.get("pairs", []) if str(p.get("status", "")).startswith(status)]


def gpu_calls_table(ctx: Context):
    """One row per GPU call: when, on which GPU, the device time inside the call (``elapsed_s``: from the
    script's start to its last update; a call cut off at the device limit is a lower bound), its budget, the
    bench records it wrote and the (net, seed) pairs it finished or stopped at its deadline."""
    import pandas as pd

    rows = [{"profile": r["_profile"], "started (UTC)": (r["provenance"].get("started") or "")[:16].replace("T", " "),
             "GPU": r.get("device", "?"), "call": r.get("call", ""), "tag": r.get("tag", ""),
             "minutes": f"{r['elapsed_s'] / 60:.1f}" + ("" if r.get("complete") else " (cut off: at least)"),
             "budget (min)": "" if r.get("budget_s") is None else f"{r['budget_s'] / 60:.1f}",
             "bench records": len(r.get("bench", [])),
             "pairs finished": ", ".join(_pairs_of(r, "exported")) or "none",
             "pairs stopped": ", ".join(_pairs_of(r, "stopped")) or "none"} for r in _gpu_calls(ctx)]
    cols = ["profile", "started (UTC)", "GPU", "call", "tag", "minutes", "budget (min)", "bench records",
            "pairs finished", "pairs stopped"]
    return pd.DataFrame(rows, columns=cols)


def gpu_pairs_table(ctx: Context):
    """Per network (Table 2's pairs, no variant tag): the (net, seed) SB/LB pairs finished on a GPU, the measured
    minutes per pair (training both regimes side by side, then sharpness and landscape; a pair stopped at one
    call's deadline and finished in the next counts both parts), the pairs the paper profile still lacks
    (seeds shown without an SB or an LB record) and their minutes at the measured rate ("not measured" before
    a pair of that network has run). Pairs of one network may run several at once (the call's ``jobs``), so a
    window needs less than the pair-minutes."""
    import dataclasses

    import pandas as pd

    from lbgap.book import sb_vs_lb

    seconds: dict[tuple, float] = {}
    finished: set = set()
    for r in _gpu_calls(ctx):
        if r["_profile"] != "paper" or r.get("tag"):
            continue
        for p in r.get("pairs", []):
            key = (p["net"], p["seed"])
            if p.get("seconds") is not None:
                seconds[key] = seconds.get(key, 0.0) + float(p["seconds"])
            if p.get("status") == "exported":
                finished.add(key)
    df = sb_vs_lb.train_runs(dataclasses.replace(ctx, record_profiles=("paper",)))  # the paper profile's Table 2 runs
    rows = []
    for net in shown_nets(ctx):
        have = df[df.net == net] if not df.empty else df
        left = [s for s in shown_seeds(ctx)
                if have.empty or not {"SB", "LB"} <= set(have[have.seed == s].regime)]
        done = sorted(k for k in finished if k[0] == net)
        mean = sum(seconds[k] for k in done) / len(done) / 60 if done else None
        rows.append({"net": net, "pairs finished on a GPU": len(done),
                     "minutes per pair": "not measured" if mean is None else f"{mean:.1f}",
                     "pairs left": len(left), "seeds left": ",".join(map(str, left)) or "none",
                     "pair-minutes left": "" if not left else ("not measured" if mean is None else f"{mean * len(left):.0f}")})
    return pd.DataFrame(rows, columns=["net", "pairs finished on a GPU", "minutes per pair", "pairs left",
                                       "seeds left", "pair-minutes left"])


def gpu_time_lines(ctx: Context) -> list[str]:
    """The total GPU time of the records' profiles, in words: the sum of the calls' device time, per profile
    and GPU, and how many calls were cut off (their time is a lower bound)."""
    calls = _gpu_calls(ctx)
    if not calls:
        from collections import Counter

        from lbgap.book.context import all_records

        devs = Counter((r.get("provenance") or {}).get("device", "?") for r in all_records(ctx))
        gpu = {d: n for d, n in devs.items() if not str(d).startswith("cpu") and d != "?"}
        if not gpu:
            return ["No record was computed on a GPU: every committed record's provenance names a CPU (the timing "
                    "table above)."]
        return [f"No GPU-call record (the bookkeeping of one GPU session) is committed, so no GPU time is summed "
                f"here; {sum(gpu.values())} of the {sum(devs.values())} records name a GPU in their provenance ("
                + ", ".join(f"{n} on {d}" for d, n in sorted(gpu.items())) + "), the others a CPU."]
    out = []
    for (prof, gpu) in sorted({(r["_profile"], r.get("device", "?")) for r in calls}):
        mine = [r for r in calls if (r["_profile"], r.get("device", "?")) == (prof, gpu)]
        cut = sum(not r.get("complete") for r in mine)
        total = sum(r["elapsed_s"] for r in mine) / 60
        pairs = sum(len(_pairs_of(r, "exported")) for r in mine)
        bench = sum(len(r.get("bench", [])) for r in mine)
        out.append(f"Total GPU time of the {prof} profile on {gpu}: {total:.1f} min in {len(mine)} call"
                   f"{'s' if len(mine) != 1 else ''} ({pairs} (net, seed) pairs and {bench} bench records written)"
                   + (f"; {cut} call{'s were' if cut != 1 else ' was'} cut off, so this is a lower bound" if cut else "")
                   + ". Machine start-up and transfers are outside the calls and not counted.")
    return out


def over_profiles(ctx: Context, table):
    """``table(results_dir, profile)`` for every profile the context reads, concatenated (empty if none has rows)."""
    import pandas as pd

    frames = [f for f in (table(ctx.results_dir, prof) for prof in ctx.record_profiles) if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def throughput_table(ctx: Context):
    """Training speed of the records (samples/s over the training steps only, as each record measured it),
    per profile, network, regime, variant tag and device; tagged runs (checks, variants) are listed too."""
    import pandas as pd

    from lbgap.core.records import train_table

    cols = ["profile", "net", "data", "regime", "batch", "tag", "device", "records", "epochs (mean)",
            "samples/s (training)"]
    df = over_profiles(ctx, train_table)
    if df.empty:
        return pd.DataFrame(columns=cols)
    g = df.groupby(["profile", "net", "dataset", "regime", "batch_size", "variant", "device"], dropna=False, sort=True)
    out = g.agg(records=("run_id", "size"), epochs=("epochs", "mean"), sps=("samples_per_s", "mean")).reset_index()
    out["epochs (mean)"] = out.pop("epochs").map("{:.1f}".format)
    out["samples/s (training)"] = out.pop("sps").map("{:,.0f}".format)
    out = out.rename(columns={"dataset": "data", "batch_size": "batch", "variant": "tag"})
    return out[cols]


# the bench tables' snake_case columns and their display labels (applied only when shown)
LABELS = {"host_load": "host load", "ours_sps": "ours (samples/s)", "baseline_sps": "baseline (samples/s)",
          "speedup": "ours ÷ baseline", "tflops": "TFLOP/s", "peak_tflops": "peak TFLOP/s",
          "share_of_peak": "share of peak", "sharpness_s": "sharpness (s)",
          "sharpness_minimize_s": "sharpness via minimize (s)", "sharpness_speedup": "sharpness speed-up",
          "one_model_sps": "one model (samples/s)", "processes_sps": "processes (samples/s)",
          "processes_x": "processes ÷ one", "stacked_seeds": "stacked seeds", "stacked_sps": "stacked (samples/s)",
          "stacked_x": "stacked ÷ one", "threads_sps": "threads (samples/s)", "threads_x": "threads ÷ one",
          "samples_per_s": "samples/s", "x_one": "÷ one"}


def bench_summary(ctx: Context):
    """``lbgap bench`` records (issue: speed on a GPU): ours against the idiomatic DataLoader baseline measured
    side by side in one invocation, achieved TFLOP/s against the measured matmul peak, the time of one full-space
    sharpness and, where measured, of the same maximisation through plain ``scipy.optimize.minimize`` (snake_case
    columns, labelled by :data:`LABELS`)."""
    import pandas as pd

    from lbgap.studies.bench import bench_table

    cols = ["device", "net", "regime", "batch", "threads", "host_load", "ours_sps", "baseline_sps", "speedup", "tflops",
            "peak_tflops", "share_of_peak", "sharpness_s", "sharpness_minimize_s", "sharpness_speedup"]
    b = over_profiles(ctx, bench_table)
    if b.empty:
        return pd.DataFrame(columns=cols)
    b = b.sort_values(["device", "net", "batch_size"])

    return pd.DataFrame({
        "device": b.device, "net": b.net, "regime": b.regime, "batch": b.batch_size,
        "threads": b.threads.map(lambda v: num(v, "{:.0f}")), "host_load": b.host_load_1min.map(lambda v: num(v, "{:.1f}")),
        "ours_sps": b.ours_samples_per_s.map(lambda v: num(v, "{:,.0f}")),
        "baseline_sps": b.baseline_samples_per_s.map(lambda v: num(v, "{:,.0f}")),
        "speedup": b.speedup.map(lambda v: num(v, "{:.2f}×")),
        "tflops": b.ours_tflops.map(lambda v: num(v, "{:.3g}")), "peak_tflops": b.peak_tflops.map(lambda v: num(v, "{:.3g}")),
        "share_of_peak": b.mfu.map(lambda v: num(v, "{:.0%}")), "sharpness_s": b.sharpness_s.map(lambda v: num(v, "{:.1f}")),
        "sharpness_minimize_s": b.sharpness_scipy_s.map(lambda v: num(v, "{:.1f}")),
        "sharpness_speedup": b.sharpness_speedup.map(lambda v: num(v, "{:.2f}×")),
    })[cols].reset_index(drop=True)


def seeds_at_once_summary(ctx: Context):
    """``lbgap bench --concurrent N`` / ``--stacked N`` / ``--streams N`` records (issue: several seeds at once
    when one run leaves the GPU idle -- processes, CUDA streams or torch.func stacking, measured side by side):
    one model's samples/s and the aggregate samples/s of N processes, N stacked seeds and N threads of one
    process (a CUDA stream each), each as a multiple of one model (snake_case columns, labelled by
    :data:`LABELS`)."""
    import pandas as pd

    from lbgap.studies.bench import bench_table

    cols = ["device", "net", "regime", "batch", "one_model_sps", "processes", "processes_sps", "processes_x",
            "stacked_seeds", "stacked_sps", "stacked_x", "threads", "threads_sps", "threads_x"]
    b = over_profiles(ctx, bench_table)
    if b.empty or not (b.concurrent.notna().any() or b.stacked.notna().any() or b.streams.notna().any()):
        return pd.DataFrame(columns=cols)
    b = b[b.concurrent.notna() | b.stacked.notna() | b.streams.notna()].sort_values(["device", "net", "batch_size"])

    def threads(n, cuda):
        return "—" if n is None or n != n else f"{n:.0f} " + ("(a CUDA stream each)" if cuda else "(no streams)")


    one = b.ours_samples_per_s
    return pd.DataFrame({
        "device": b.device, "net": b.net, "regime": b.regime, "batch": b.batch_size,
        "one_model_sps": one.map(lambda v: num(v, "{:,.0f}")),
        "processes": b.concurrent.map(lambda v: num(v, "{:.0f}")),
        "processes_sps": b.concurrent_samples_per_s.map(lambda v: num(v, "{:,.0f}")),
        "processes_x": (b.concurrent_samples_per_s / one).map(lambda v: num(v, "{:.2f}×")),
        "stacked_seeds": b.stacked.map(lambda v: num(v, "{:.0f}")),
        "stacked_sps": b.stacked_samples_per_s.map(lambda v: num(v, "{:,.0f}")),
        "stacked_x": (b.stacked_samples_per_s / one).map(lambda v: num(v, "{:.2f}×")),
        "threads": [threads(n, c) for n, c in zip(b.streams, b.streams_cuda)],
        "threads_sps": b.streams_samples_per_s.map(lambda v: num(v, "{:,.0f}")),
        "threads_x": (b.streams_samples_per_s / one).map(lambda v: num(v, "{:.2f}×")),
    })[cols].reset_index(drop=True)


def profiles_table():
    """What each profile does (config.PROFILES), one row per profile."""
    import pandas as pd

    from lbgap.core.config import PROFILES

    return pd.DataFrame([{"profile": k, **{kk: ("" if vv is None else str(vv)) for kk, vv in v.items()}}
                         for k, v in PROFILES.items()])


# ------------------------------------------------------------------------------------ what the notebook shows
def _listing(df, what: str, uuid: str) -> None:
    """A long listing as one line that opens onto the table; columns with one value throughout go to that line."""
    from IPython.display import display

    from lbgap.book import run_sets

    t, same = fold_constant(df)
    display(dropdown(t, f"{what}: {len(t)} rows" + (f" (all rows: {same})" if same else "") + " — runs: "
                     + run_sets.runs("all-records"), uuid))


def show_provenance(ctx: Context) -> None:
    t_prov = provenance_table(ctx)
    if t_prov.empty:
        print("No records yet.")
    else:
        _listing(t_prov, "Records by profile, kind, device and software version", "provenance")


def rerun_run_sets(t) -> str:
    """The run sets of a rerun table ``t`` (:func:`rerun_table`): the reruns' set per network, with the seeds."""
    import re

    from lbgap.book import run_sets

    by_net = {}
    for run in t.run:
        m = re.match(r"([A-Z]\d)-.*-s(\d+)", run)
        if m:
            by_net.setdefault(m.group(1), set()).add(int(m.group(2)))
    items = [(run_sets.find("rerun", net), sorted(s)) for net, s in by_net.items() if run_sets.find("rerun", net)]
    return run_sets.runs(*items) if items else "reruns not in the run-set registry"


def show_rerun_tables(t, caption: str, uuid: str, ctx: Context | None = None) -> None:
    """A rerun table (:func:`rerun_table`) as two tables that fit the column: the training losses, then the test
    accuracy and the machines; each caption names the run sets and the dates the reruns were written."""
    where = f" — runs: {rerun_run_sets(t)}" + (f" ({rerun_dates(ctx)})" if ctx is not None else "")
    show(t[["run", "x0_loss_original", "x0_loss_rerun", "final_loss_original", "final_loss_rerun"]],
         caption + ": training loss at x0 and at the end" + where, uuid, labels=RERUN_LABELS)
    show(t[["run", "test_acc_original", "test_acc_rerun", "diff_pt", "original_on", "rerun_on"]],
         caption + ": test accuracy and machines" + where, uuid + "-acc", wrap=("run", "original_on", "rerun_on"),
         labels=RERUN_LABELS)


def rerun_dates(ctx: Context) -> str:
    """"written 2026-12-01": the days the rerun records were written (their provenance), or "" without them."""
    days = sorted({str((r.get("provenance") or {}).get("started", ""))[:10] for r in train_records(all_records(ctx)).values()
                   if variant(r["config"].get("tag", "")) == RERUN_TAG} - {""})
    return ("written " + ", ".join(days)) if days else ""


def show_reruns(ctx: Context) -> None:
    t_rerun = rerun_table(ctx)
    if t_rerun.empty:
        print("No recomputed runs yet (lbgap train ... --tag recheck).")
    else:
        show_rerun_tables(t_rerun, "Runs recomputed with an unchanged configuration, beside the original", "rerun", ctx)


def show_profiles():
    """The profiles side by side: one row per setting, one column per profile."""
    t = profiles_table().set_index("profile").T.rename_axis("setting").reset_index()
    from lbgap.book import run_sets

    return styled(t, run_sets.caption("Profiles (lbgap.core.config.PROFILES)", "no-runs"), "profiles")


def show_timing(ctx: Context) -> None:
    t_time = timing_table(ctx)
    if t_time.empty:
        print("No records yet.")
    else:
        _listing(t_time, "Wall time of the records (sum over records, from their provenance)", "timing")


def show_gpu_time(ctx: Context) -> None:
    from lbgap.book import run_sets

    for line in gpu_time_lines(ctx):
        print(line)
    t_calls = gpu_calls_table(ctx)
    if not t_calls.empty:
        show(t_calls, run_sets.caption("Calls of scripts/gpu_paper.sh on a GPU (records of kind gpu_call)",
                                       "gpu-calls"), "gpu-calls")
    show(gpu_pairs_table(ctx), run_sets.caption("Table 2 pairs on a GPU: measured minutes per pair and the pairs left",
                                                "gpu-calls"), "gpu-pairs")


def show_throughput(ctx: Context) -> None:
    t_tp = throughput_table(ctx)
    if t_tp.empty:
        print("No training records yet.")
    else:
        _listing(t_tp, "Training samples/s of the records (mean over records)", "throughput")


def show_bench(ctx: Context) -> None:
    t_bench = bench_summary(ctx)
    if t_bench.empty:
        print("No bench records yet.")
    else:
        t, same = fold_constant(t_bench, keep=("net", "regime", "batch"), labels=LABELS)
        from lbgap.book import run_sets

        cap = "lbgap bench: ours vs the DataLoader baseline, measured side by side" + (f" ({same})" if same else "")
        show(t[[c for c in t.columns if not c.startswith("sharpness")]], run_sets.caption(cap, "bench"), "bench",
             labels=LABELS)
        sharp = t[t.sharpness_s != "—"] if "sharpness_s" in t else t.iloc[:0]
        if len(sharp):
            show(sharp[["net", "regime", "batch", *[c for c in t.columns if c.startswith("sharpness")]]],
                 run_sets.caption("lbgap bench: one sharpness computation, ours vs scipy.optimize.minimize", "bench"),
                 "bench-sharpness", labels=LABELS)
        if t_bench.device.str.startswith("cpu").all():
            print("No GPU bench record yet: the GPU targets are still unmeasured.")
        above = t_bench[t_bench.share_of_peak.str.rstrip("%").str.replace(",", "").map(_number) > 100]
        if len(above):
            print(f"{len(above)} row(s) above 100 % of the peak: the peak is one matmul measured in the same "
                  "invocation, not the device's ceiling, and the training FLOPs are an estimate, so a share above "
                  "100 % says that one of the two is low, not that the workload beat the hardware.")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def show_seeds_at_once(ctx: Context) -> None:
    t_many = seeds_at_once_summary(ctx)
    if t_many.empty:
        print("No bench record has timed several seeds at once yet.")
    else:
        from lbgap.book import run_sets

        show(seeds_at_once_long(t_many), run_sets.caption("Several seeds at once: processes, torch.func stacking and "
                                                          "threads (CUDA streams), against one model", "bench"),
             "seeds-at-once", labels=LABELS)


def seeds_at_once_long(t):
    """:func:`seeds_at_once_summary` with one row per way of running (one model, processes, stacked, threads)."""
    import pandas as pd

    rows = []
    for _, r in t.iterrows():
        key = {"device": r["device"], "net": r["net"], "regime": r["regime"], "batch": r["batch"]}
        rows.append({**key, "way": "one model", "seeds": "1", "samples_per_s": r["one_model_sps"], "x_one": "1×"})
        for way, n in (("processes", "processes"), ("stacked", "stacked_seeds"), ("threads", "threads")):
            rows.append({**key, "way": way, "seeds": str(r[n]), "samples_per_s": r[f"{way}_sps"],
                         "x_one": r[f"{way}_x"]})
    return pd.DataFrame(rows)
