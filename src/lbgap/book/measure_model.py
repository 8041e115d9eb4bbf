"""The chapter "Measure your own model": ``lbgap.measure`` on a network the reader knows (a torchvision ResNet-18 on
a CIFAR-10 subset), what each number costs, and ``lbgap advise`` calibrated against what the book measured on F1
and C1 (steps-to-target B_crit, tuned learning rates)."""
from __future__ import annotations

from lbgap.book.context import Context

CALIBRATED = {"F1": "mnist", "C1": "cifar10"}    # the networks the advice is checked on, and their data


def advise_record_name(net: str) -> str:
    """The advise record of ``net`` (``lbgap advise``, command :func:`advise_command`)."""
    return f"{net}-{CALIBRATED[net]}-adam-b256-s0"


def advised_net(record_name: str) -> str | None:
    """The network whose advise record is ``record_name`` (:func:`advise_record_name`); None for any other record."""
    return next((net for net in CALIBRATED if advise_record_name(net) == record_name), None)


def advise_command(net: str) -> str:
    """The ``lbgap advise`` call that writes ``net``'s advise record: Adam at the paper's 1e-3, B = 256, 300 steps
    from x0 of seed 0, a B_simple probe every 10 steps."""
    return (f"lbgap advise --model lbgap.book.measure_model:{net.lower()}_model --data {CALIBRATED[net]} --batch-size "
            "256 --optimizer adam --lr 1e-3 --b-small 64 --chunks 16 --steps 300 --probe-every 10 --threads 1 "
            f"--record {advise_record_name(net)}")


ADVISE_F1, F1_COMMAND = advise_record_name("F1"), advise_command("F1")
DEMO = "resnet18-cifar10"             # the measure record of the ResNet-18 demo
DEMO_EXAMPLES = 2048                  # CIFAR-10 training images the demo measures on (smoke: synthetic, fewer)
KIND = "measure"


def _paper_model(net: str):
    import torch

    from lbgap.core.models import build_model

    torch.manual_seed(0)
    return build_model(net, bn="batch", num_classes=10)


def f1_model():
    """F1 at x0 of seed 0 (``lbgap advise --model lbgap.book.measure_model:f1_model``)."""
    return _paper_model("F1")


def c1_model():
    """C1 at x0 of seed 0 (``lbgap advise --model lbgap.book.measure_model:c1_model``)."""
    return _paper_model("C1")


def record_profile(ctx: Context) -> str:
    """The records live under data/results/quick (results mode), else under the computing profile."""
    return "quick" if ctx.profile == "results" else ctx.run_profile


def resnet18():
    """torchvision's ResNet-18 for 10 classes, seed 0 (through the project's torchvision shim)."""
    import torch

    from lbgap.core._tv import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10)


def demo(results_dir=None, profile: str = "quick", examples: int = DEMO_EXAMPLES, device: str = "auto") -> dict:
    """The three measurements of ``lbgap.measure`` on a ResNet-18 at initialisation, on the first ``examples``
    CIFAR-10 training images (synthetic CIFAR-shaped images under the smoke profile), each timed; one record."""
    import time

    import torch

    from lbgap import measure
    from lbgap.core import data as datamod
    from lbgap.core import records
    from lbgap.core.train import compute_device

    smoke = profile == "smoke"
    dev = compute_device("cpu" if smoke else device)
    bundle = datamod.load("cifar10", "holdout", "synthetic" if smoke else "real", "cpu",
                          n_train=examples if smoke else None)
    X, y = bundle.train.batch(slice(0, min(examples, len(bundle.train))))
    model = resnet18().to(dev)
    loss = torch.nn.functional.cross_entropy
    small = dict(noise=dict(b_small=4, chunks=2, probes=2), eig=dict(tol=1e-1, maxiter=1, ncv=3, batch_size=16),
                 sharp=dict(maxiter=1, batch_size=16, space="random", p=2)) if smoke else \
        dict(noise=dict(b_small=32, chunks=8, probes=8), eig=dict(tol=1e-3, maxiter=10, ncv=20, batch_size=256),
             sharp=dict(maxiter=10, batch_size=256, space="full"))
    started, load, t0 = records.now(), records.host_load(), time.perf_counter()
    out = {}
    out["noise_scale"] = measure.noise_scale(model, loss, (X, y), **small["noise"]).to_dict()
    out["top_eigenvalue"] = measure.top_eigenvalue(model, loss, (X, y), **small["eig"]).to_dict()
    out["sharpness"] = measure.sharpness(model, loss, (X, y), eps=1e-3, objective="sum", **small["sharp"]).to_dict()
    return records.write_record(results_dir, profile, KIND, DEMO, model="torchvision resnet18, 10 classes, seed 0, "
                                "at initialisation", data=bundle.info, examples=len(y), settings=small,
                                n_params=sum(p.numel() for p in model.parameters()), **out,
                                provenance=records.provenance(dev, time.perf_counter() - t0, started, load))


def smoke_advice(results_dir) -> dict:
    """The F1 advise record on synthetic MNIST-shaped data, in seconds (profile ``smoke``)."""
    import torch

    from lbgap.core import data as datamod
    from lbgap.measure import advice

    bundle = datamod.load("mnist", "official", "synthetic", "cpu", n_train=512)
    a = advice.measure_along_run(f1_model(), torch.nn.functional.cross_entropy, bundle.train.batch(slice(None)),
                                 batch_size=32, steps=20, optimizer="adam", lr=1e-3, probe_every=5, b_small=8,
                                 chunks=4)
    return advice.write(a, ADVISE_F1, results_dir, "smoke", model_spec="lbgap.book.measure_model:f1_model",
                        data_spec="mnist (synthetic)", loss="cross_entropy")


def compute(ctx: Context) -> None:
    from lbgap.measures import noise
    from lbgap.studies import steps

    if ctx.profile == "smoke":
        demo(ctx.results_dir, "smoke", examples=16)
        smoke_advice(ctx.results_dir)
        steps.smoke_sweep(ctx.results_dir, optimizers=("adam", "sgd"))
        steps.smoke_sweep(ctx.results_dir, seeds=(0, 1), optimizers=("adam",), net="C1")
        noise.smoke(ctx.results_dir)
    else:
        demo(ctx.results_dir, record_profile(ctx), device=ctx.device)


# ---------------------------------------------------------------------------------------------- records
def demo_record(ctx: Context) -> dict | None:
    from lbgap.core import records

    return records.read_record(records.record_path(ctx.results_dir, record_profile(ctx), KIND, DEMO))


def advice_record(ctx: Context, net: str = "F1") -> dict | None:
    from lbgap.measure import advice

    return ctx.memo("advise-records", lambda: advice.load(ctx.results_dir, record_profile(ctx))).get(
        advise_record_name(net))


def critical_batch(ctx: Context, net: str) -> tuple[dict, list[str]]:
    """Per optimizer, B_crit fitted to ``net``'s steps-to-target runs at its tuned LRs: F1's is the chapter *Batch
    size versus iterations*' own fit (one value in the book), C1's from its records at C1's target."""
    from lbgap.book import batch_vs_iterations as bvi
    from lbgap.studies import steps

    if net == "F1":
        return bvi.fits(ctx)
    return ctx.memo(f"fits-{net}", lambda: steps.critical_batches(net_runs(ctx, net), bvi.target(ctx, net),
                                                                  n_boot=500))


def net_runs(ctx: Context, net: str):
    """Every steps-to-target run of ``net`` (``steps.table``), read once per page."""
    from lbgap.book import batch_vs_iterations as bvi
    from lbgap.studies import steps

    return ctx.memo(f"steps-{net}", lambda: steps.table(ctx.results_dir, bvi.record_profile(ctx), net))


# :func:`calibration`'s snake_case columns and their display labels (applied only when shown)
CALIBRATION_LABELS = {"net": "network", "b_simple_from": "B_simple from", "b_simple": "B_simple", "b_simple_ci": "B_simple 95% CI",
                      "b_crit": "B_crit (steps to target)", "b_crit_ci": "B_crit 95% CI", "ratio": "B_crit / B_simple",
                      "ratio_range": "ratio range", "b_simple_inside": "B_simple inside B_crit's CI"}


def calibration(ctx: Context):
    """The advice for F1 and C1 against what the book measured directly: B_simple of ``lbgap advise`` (short run)
    and, for F1, of the gradient-noise chapter (at 95 % validation accuracy) beside B_crit fitted to the
    steps-to-target runs per optimizer, and their ratios. A table (columns of :data:`CALIBRATION_LABELS`), one row
    per (network, B_simple source, optimizer) with both records."""
    import pandas as pd

    from lbgap.book import batch_vs_iterations as bvi

    rows = []
    for net in CALIBRATED:
        adv = advice_record(ctx, net)
        fitted, _ = critical_batch(ctx, net)
        guides = []
        if adv is not None:
            guides.append((f"lbgap advise: {adv['steps']}-step {adv['optimizer']} run, B = {adv['batch_size']}",
                           adv["b_simple"], tuple(adv["ci"])))
        if net == "F1":
            try:
                bs = bvi.b_simple(ctx)
                guides.append((f"gradient-noise chapter: SB run at {bvi.target(ctx):.0%} val. acc.", bs["b_simple"],
                               tuple(bs["ci"])))
            except StopIteration:
                pass
        rows += _calibration_rows(net, guides, fitted)
    return pd.DataFrame(rows, columns=list(CALIBRATION_LABELS))


def _calibration_rows(net: str, guides, fitted: dict) -> list[dict]:
    rows = []
    for name, b, ci in guides:
        for opt, f in fitted.items():
            ratio = f["b_crit"] / b
            rows.append({"net": net, "b_simple_from": name, "b_simple": b, "b_simple_ci": ci, "b_crit": f"{opt}: {f['b_crit']:,.0f}",
                         "b_crit_ci": tuple(f["b_crit_ci"]), "ratio": ratio,
                         "ratio_range": (f["b_crit_ci"][0] / ci[1], f["b_crit_ci"][1] / ci[0]),
                         "b_simple_inside": f["b_crit_ci"][0] <= b <= f["b_crit_ci"][1]})
    return rows


def calibration_gaps(ctx: Context) -> list[str]:
    """For each calibrated network without a full comparison, what is missing and the command that makes it."""
    out = []
    for net in CALIBRATED:
        adv = advice_record(ctx, net)
        if adv is None:
            out.append(f"{net}: no advise record; run `{advise_command(net)}`.")
        if not critical_batch(ctx, net)[0]:
            if adv is not None:
                out.append(f"{net}: `lbgap advise` gives B_simple = {adv['b_simple']:,.0f} (95 % CI {adv['ci'][0]:,.0f} "
                           f"to {adv['ci'][1]:,.0f}) after {adv['steps']} {adv['optimizer']} steps at B = "
                           f"{adv['batch_size']} on {adv.get('data_spec', 'its data')}; nothing to check it against yet.")
            out.append(f"{net}: no critical batch size fitted yet (steps-to-target runs at 3 or more batch sizes: "
                       f"`lbgap sweep steps-to-target --net {net}`"
                       + (", or on a GPU node `scripts/gpu_steps.sh`" if net != "F1" else "")
                       + ").")
    return out


def steps_table(ctx: Context, net: str):
    """``net``'s steps-to-target study per (optimizer, batch size) at the tuned learning rate: the rates tried, the
    tuned one, the seeds, steps to the target (mean and sd over seeds) and in epochs, the fit's S(B) =
    S_min (1 + B_crit / B) (:func:`critical_batch`) and the summed wall time of every run at that batch size."""
    import pandas as pd

    from lbgap.book import batch_vs_iterations as bvi
    from lbgap.studies import steps

    df = net_runs(ctx, net)
    if not len(df):
        return pd.DataFrame()
    t, (fitted, _) = bvi.target(ctx, net), critical_batch(ctx, net)
    key = f"steps@{t:.2f}"
    df = df.assign(epochs_to=df[key] * df.batch_size / (df.steps * df.batch_size / df.epochs))
    best = steps.best_lr(df, t)
    rows = []
    for (opt, b), g in df.groupby(["optimizer", "batch_size"]):
        tuned = g[g.lr == best[(opt, b)]]
        f = fitted.get(opt)
        rows.append(dict(optimizer=opt, batch_size=b, lrs=", ".join(f"{v:.2g}" for v in sorted(set(g.lr))),
                         lr=best[(opt, b)], bracketed=steps.next_notch(set(g.lr), best[(opt, b)]) is None,
                         seeds=len(tuned), reached=int(tuned[key].notna().sum()),
                         steps=tuned[key].mean(), steps_sd=tuned[key].std(), epochs=tuned.epochs_to.mean(),
                         fit=steps.sb_model(b, f["s_min"], f["b_crit"]) if f else float("nan"),
                         minutes=g.wall_time_s.sum() / 60))
    return pd.DataFrame(rows)


STEPS_LABELS = {"optimizer": "optimizer", "batch_size": "B", "lrs": "learning rates tried", "lr": "tuned lr",
                "bracketed": "tuned lr inside the rates tried",
                "seeds": "seeds", "reached": "reached", "steps": "steps to target (mean)", "steps_sd": "sd",
                "epochs": "epochs to target", "fit": "fit S(B)", "minutes": "run time, min (all runs at B)"}


def missing_batch_sizes(ctx: Context, net: str) -> tuple[list[int], list[int]]:
    """The batch sizes of ``net``'s study design (``steps.BATCH_SIZES``) with no run at a tuned learning rate, and
    those whose tuned rate has fewer seeds than the design's (``steps.SEEDS``)."""
    from lbgap.studies import steps

    tab = steps_table(ctx, net)
    seeds = dict(zip(tab.batch_size, tab.seeds)) if len(tab) else {}
    return ([b for b in steps.BATCH_SIZES[net] if b not in seeds],
            [b for b in steps.BATCH_SIZES[net] if 0 < seeds.get(b, 0) < len(steps.SEEDS)])


def show_steps(ctx: Context, net: str = "C1") -> None:
    """``net``'s steps to its target per batch size at the tuned learning rate beside the fit, and which batch
    sizes of the study's design are still missing."""
    from lbgap.book import batch_vs_iterations as bvi
    from lbgap.book import run_sets
    from lbgap.book.style import show, verdict_lines
    from lbgap.studies import steps

    tab = steps_table(ctx, net)
    if not len(tab):
        print(f"no {net} steps-to-target records here: `lbgap sweep steps-to-target --net {net}`")
        return
    t = bvi.target(ctx, net)
    fmt = tab.assign(lr=tab.lr.map("{:.2g}".format), steps=tab.steps.map("{:,.0f}".format),
                     bracketed=tab.bracketed.map({True: "yes", False: "no (at an edge)"}),
                     steps_sd=tab.steps_sd.map(lambda v: "—" if v != v else f"{v:,.0f}"),
                     epochs=tab.epochs.map("{:.2f}".format),
                     fit=tab.fit.map(lambda v: "—" if v != v else f"{v:,.0f}"),
                     minutes=tab.minutes.map("{:.0f}".format))
    show(fmt, run_sets.caption(f"{net}: steps to {t:.0%} validation accuracy per batch size at the learning rate "
                               "tuned on the first seed (the others rerun it), beside the fit S(B) = S_min (1 + B_crit "
                               "/ B)", f"{net}-steps"), f"steps-{net}", labels=STEPS_LABELS)
    gone, short = missing_batch_sizes(ctx, net)
    lines = []
    fit = critical_batch(ctx, net)[0].get("adam")
    if fit and tab.batch_size.max() < 3 * fit["b_crit"]:
        lines.append(f"{net}: the runs stop at B = {tab.batch_size.max():,}, below 3 × B_crit = "
                     f"{3 * fit['b_crit']:,.0f}, where the steps would flatten to S_min (the regimes of the chapter "
                     "*Batch size vs iterations*): S_min, and with it B_crit, rest on the model's form more than on "
                     "runs there, beyond what the bootstrap interval over seeds measures.")
    if gone:
        lines.append(f"{net}: the study's batch sizes {', '.join(f'{b:,}' for b in gone)} have no runs yet; the runs "
                     f"cover B = {tab.batch_size.min():,}–{tab.batch_size.max():,}.")
    edge = sorted(tab.batch_size[~tab.bracketed])
    if edge:
        lines.append(f"{net}: at B = {', '.join(f'{b:,}' for b in edge)} the fastest rate tried sits at an edge of the "
                     "rates tried, so its steps to the target are an upper bound (the study grows the grid by a notch "
                     f"beyond such an edge, up to {steps.MAX_EXTEND} times).")
    if short:
        lines.append(f"{net}: B = {', '.join(f'{b:,}' for b in short)} ha{'s' if len(short) == 1 else 've'} fewer "
                     f"seeds at the tuned rate than the design's {len(steps.SEEDS)}.")
    if gone or short:
        lines.append(f"The missing runs are added by `lbgap sweep steps-to-target --net {net} --optimizers adam "
                     f"--batch-sizes {','.join(map(str, sorted(gone + short)))} --seeds 0-{len(steps.SEEDS) - 1} "
                     "--max-epochs 30 --max-steps 20000` (on a GPU node: `scripts/gpu_steps.sh`, float32); runs "
                     "already recorded are skipped.")
    if lines:
        verdict_lines(lines)


GRID_STEP = 2.0   # the tuned-LR grid's spacing: each selected LR is within a factor √2 of the grid's optimum


def lr_check(ctx: Context):
    """The advice's learning-rate rule for F1 (Adam) against the tuned-LR study, or None without both records.

    The advice's rule is the slope of log(lr) against log(B) fitted to the steps-to-target study's tuned LRs (its
    95 % t-interval, :func:`lbgap.measure.advice.lr_evidence`). The tuned-LR grid selects LR × m_SB at B_SB and
    LR × m_LB at B_LB by validation accuracy; its slope is log(m_LB/m_SB) / log(B_LB/B_SB), known to within a
    factor GRID_STEP of the LR ratio (half a grid step at each end). Rule "interval against a range"
    (:func:`claims.inside_range`); "unresolved" while either grid is provisional."""
    import math

    from lbgap.book import claims as cl
    from lbgap.book import tuned_lr
    from lbgap.book.stats import Estimate
    from lbgap.measure import advice

    ev = advice.lr_evidence(ctx.results_dir, record_profile(ctx)).get("adam")
    sel = tuned_lr.selected(ctx)
    if ev is None or set(sel) != {"SB", "LB"}:
        return None
    sb, lb = sel["SB"], sel["LB"]
    k = float(lb["row"].batch_size) / float(sb["row"].batch_size)
    ratio = lb["multiplier"] / sb["multiplier"]
    slope = math.log(ratio) / math.log(k)
    half = math.log(GRID_STEP) / math.log(k)
    est = Estimate(ev["slope"], ev["n"], tuple(ev["ci"]), float("nan"), "linregress of log lr on log B")
    claim = cl.inside_range(est, slope - half, slope + half, sb["complete"] and lb["complete"],
                            "advice's LR slope vs tuned-LR grid")
    return dict(claim=claim, advice=ev, tuned_slope=slope, k=k, ratio=ratio, sb=sb, lb=lb,
                predicted_multiplier=sb["multiplier"] * k ** ev["slope"])


# ------------------------------------------------------------------------------------ what the notebook shows
def show_records(ctx: Context) -> None:
    d, a = demo_record(ctx), advice_record(ctx)
    print("demo record:", f"{DEMO} ({d['provenance']['device']})" if d else
          "not measured (needs CIFAR-10: `lbgap data download cifar10`, then the chapter with profile='quick')")
    print("advise record:", f"{ADVISE_F1} ({a['provenance']['device']})" if a else f"none; run `{F1_COMMAND}`")


def show_demo(ctx: Context) -> None:
    """The three numbers on ResNet-18 with their uncertainty and cost in seconds."""
    import pandas as pd

    from lbgap.book.style import show

    d = demo_record(ctx)
    if d is None:
        print("The ResNet-18 measurement has no record here: CIFAR-10 is not in this checkout's data cache. "
              "It is computed by this chapter with profile='quick' once `lbgap data download cifar10` has run.")
        return
    ns, ev, sh = d["noise_scale"], d["top_eigenvalue"], d["sharpness"]
    rows = [dict(measure="B_simple (noise_scale)", value=f"{ns['b_simple']:,.1f}",
                 uncertainty=f"95% CI {ns['ci'][0]:,.1f} to {ns['ci'][1]:,.1f} ({ns['probes']} probes)",
                 examples=ns["examples"], seconds=f"{ns['wall_s']:.1f}"),
            dict(measure="λ_max (top_eigenvalue)", value=f"{ev['value']:.4g}",
                 uncertainty=f"residual {ev['residual']:.2g}, {'converged' if ev['converged'] else 'not converged'}"
                             f" ({ev['hvps']} HVPs)", examples=ev["examples"], seconds=f"{ev['wall_s']:.1f}"),
            dict(measure=f"φ, Metric 2.1 (sharpness, ε = {sh['eps']:g}, {sh['objective']})", value=f"{sh['phi']:.4g}",
                 uncertainty=f"a lower bound: {sh['nfev']} evaluations, {sh['at_bound']:.0%} of coordinates at the box",
                 examples=sh["examples"], seconds=f"{sh['wall_s']:.1f}")]
    print(f"{d['model']}; {d['n_params']:,} parameters; {d['examples']:,} examples; {d['provenance']['device']}")
    from lbgap.book import run_sets

    show(pd.DataFrame(rows), run_sets.caption("lbgap.measure on a ResNet-18", ("demo", None)) + f" (record {DEMO})",
         "demo")


def show_advice(ctx: Context) -> None:
    """What ``lbgap advise`` prints for F1, from its record: the command, the advice and the trade-off table."""
    from IPython.display import Markdown, display

    from lbgap.book.style import show, verdict_lines
    from lbgap.measure import advice

    a = advice_record(ctx)
    if a is None:
        print(f"no advise record; run `{F1_COMMAND}`")
        return
    fields = {k: a[k] for k in advice.Advice.__dataclass_fields__ if k in a}
    fields["ci"] = tuple(fields["ci"])
    res = advice.Advice(**fields)
    words = F1_COMMAND.split(" --")
    display(Markdown("```sh\n" + " \\\n    --".join(words) + "\n```"))
    prov = a.get("provenance") or {}
    verdict_lines(advice.report_lines(res, advice.lr_evidence(ctx.results_dir, record_profile(ctx)))
                  + [f"This run took {res.wall_s:.0f} s of wall time on {prov.get('device', 'an unrecorded device')}"
                     + (f", host load {prov['host_load_start'][0]:.1f} at its start" if prov.get("host_load_start")
                        else "") + "."])
    if res.b_simple > 0 and res.ci[0] > 0:
        t = advice.tradeoff_table(res.b_simple, res.ci)
        t = t.assign(steps_rel=t.steps_rel.map("{:.2f}".format), examples_rel=t.examples_rel.map("{:.2f}".format),
                     steps_range=t.steps_range.map(lambda r: f"{r[0]:.2f} to {r[1]:.2f}"),
                     examples_range=t.examples_range.map(lambda r: f"{r[0]:.2f} to {r[1]:.2f}"))
        from lbgap.book import run_sets

        show(t, run_sets.caption("Steps and examples relative to their minima if B_crit = B_simple: (S/S_min − 1)"
                                 "(E/E_min − 1) = 1 (McCandlish et al., Eqs. 2.11-2.12); ranges over B_simple's 95 % "
                                 "interval", "F1-advise"), "tradeoff", labels=advice.TRADEOFF_LABELS)


def show_calibration(ctx: Context) -> None:
    """The calibration table and, per row, the ratio B_crit / B_simple and whether B_simple lies in B_crit's
    interval (the rule that picks "within" / "outside"); then what each calibrated network still lacks."""
    from lbgap.book import run_sets
    from lbgap.book.style import show, verdict_lines

    df = calibration(ctx)
    if len(df):
        fmt = df.assign(b_simple=df.b_simple.map("{:,.0f}".format),
                        b_simple_ci=df.b_simple_ci.map(lambda c: f"{c[0]:,.0f} to {c[1]:,.0f}"),
                        b_crit_ci=df.b_crit_ci.map(lambda c: f"{c[0]:,.0f} to {c[1]:,.0f}"),
                        ratio=df.ratio.map("{:.2f}".format),
                        ratio_range=df.ratio_range.map(lambda c: f"{c[0]:.2f} to {c[1]:.2f}"),
                        b_simple_inside=df.b_simple_inside.map({True: "yes", False: "no"}))
        sets = [k for net in dict.fromkeys(df.net) for k in
                ((f"{net}-advise", f"{net}-noise", f"{net}-steps") if net == "F1" else (f"{net}-advise", f"{net}-steps"))]
        show(fmt, run_sets.caption("The advice against the critical batch size measured by steps to target (hold-out "
                                   "splits; B_crit fitted per optimizer with the learning rate tuned per B)", *sets),
             "calibration", labels=CALIBRATION_LABELS)
    lines = []
    for r in df.itertuples():
        word = "within" if r.b_simple_inside else "outside"
        lines.append(f"{r.net}, {r.b_simple_from}: B_crit ({r.b_crit}) / B_simple = "
                     f"{r.ratio:.2f} (range {r.ratio_range[0]:.2f} to {r.ratio_range[1]:.2f}); "
                     f"B_simple is {word} B_crit's 95% interval")
    adam = df[df.b_simple_from.str.startswith("lbgap advise") & df.b_crit.str.startswith("adam")]
    if adam.net.nunique() > 1:
        factor = max(max(adam.ratio), 1 / min(adam.ratio))
        ends = adam.sort_values("ratio").iloc[[0, -1]]
        lines.append("Over the calibrated networks (lbgap advise against Adam's B_crit), B_crit / B_simple runs from "
                     + " to ".join(f"{r.ratio:.2f} ({r.net})" for r in ends.itertuples())
                     + f": the advice places the critical batch within a factor {factor:.1f} of the measured one"
                     + (", too high on one network and too low on another." if adam.ratio.min() < 1 < adam.ratio.max()
                        else "."))
    verdict_lines(lines + calibration_gaps(ctx))


def show_lr_check(ctx: Context) -> None:
    """The advice's LR rule beside the tuned-LR grid: a sentence with both slopes and the verdict of the rule."""
    from lbgap.book import tuned_lr
    from lbgap.book.stats import signed
    from lbgap.book.style import verdict_lines

    c = lr_check(ctx)
    if c is None:
        print("no comparison: the steps-to-target records or the tuned-LR grid (chapter *Tuned learning rate*) "
              "are missing")
        return
    ev, cl_, sb, lb = c["advice"], c["claim"], c["sb"], c["lb"]
    verdict_lines([
        f"The advice (Adam): lr ∝ B^{ev['slope']:.2f} (95 % CI {ev['ci'][0]:.2f} … {ev['ci'][1]:.2f}, n = {ev['n']} "
        f"batch sizes, {ev['batch_sizes'][0]:,}–{ev['batch_sizes'][1]:,}; steps to target): from B = "
        f"{int(sb['row'].batch_size):,} at LR × {sb['multiplier']:g} it predicts LR × {c['predicted_multiplier']:.2g} "
        f"at B = {int(lb['row'].batch_size):,}.",
        f"The tuned-LR grid (best validation accuracy after full training): LR × {sb['multiplier']:g} at B = "
        f"{int(sb['row'].batch_size):,} ({tuned_lr.state_words(sb)}) and × {lb['multiplier']:g} at B = "
        f"{int(lb['row'].batch_size):,} ({tuned_lr.state_words(lb)}): slope {signed(c['tuned_slope'])}, "
        f"{signed(cl_.numbers['lo'])} … {signed(cl_.numbers['hi'])} within the grid's resolution.",
        f"Verdict: **{cl_.verdict}** (rule: {cl_.rule})."])
