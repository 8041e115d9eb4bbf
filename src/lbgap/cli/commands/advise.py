"""``lbgap advise``: the gradient-noise scale of your own model along a short training run, and what batch size
and learning-rate rule it suggests (``lbgap.measure.advice``)."""
from __future__ import annotations

import argparse

from lbgap.cli import options as opt

LOSSES = ("cross_entropy", "mse")


def add_parser(sub) -> None:
    p = sub.add_parser("advise", help="measure B_simple of your own model along a short run and advise a batch size")
    p.add_argument("--model", required=True, help="MODULE:FUNCTION (or path/to/file.py:FUNCTION) returning a fresh "
                   "torch.nn.Module")
    p.add_argument("--data", required=True, help="MODULE:FUNCTION returning a torch Dataset of (input, target) or an "
                   "(X, y) tensor pair, or a cached data set by name: mnist, cifar10")
    p.add_argument("--loss", default="cross_entropy", choices=LOSSES, help="loss of the model's outputs, mean over "
                   "the batch (default cross_entropy; mse for regression)")
    p.add_argument("--batch-size", type=opt.positive_int, default=64, help="batch size of the short run (default 64)")
    p.add_argument("--steps", type=opt.positive_int, default=200, help="steps of the short run (default 200)")
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"], help="sgd (momentum 0.9) or adam "
                   "(default sgd)")
    p.add_argument("--lr", type=opt.positive_float, default=None, help="learning rate (default 0.01 for sgd, 1e-3 "
                   "for adam)")
    p.add_argument("--probe-every", type=opt.positive_int, default=10, help="steps between B_simple probes "
                   "(default 10)")
    p.add_argument("--b-small", type=opt.positive_int, default=32, help="examples per chunk of a probe (default 32)")
    p.add_argument("--chunks", type=opt.positive_int, default=8, help="chunks per probe, B_big = chunks x b-small "
                   "(default 8)")
    p.add_argument("--examples", type=opt.positive_int, default=None, help="use only the first N examples of the "
                   "data (default all)")
    p.add_argument("--seed", type=opt.seed, default=0, help="seed of the batches and probes, a whole number >= 0 "
                   "(default 0)")
    p.add_argument("--device", default="auto", type=opt.device, help="auto | cpu | cuda[:N] (default auto)")
    p.add_argument("--record", default=None, help="also write the measurement as record NAME (kind advise) into "
                   "the record store")
    p.add_argument("--profile", default="quick", type=opt.profile_name, help="profile folder of --record "
                   "(default quick)")
    p.add_argument("--threads", type=opt.positive_int, default=None, help="torch CPU threads (default torch's own)")
    opt.results_arg(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from lbgap.core import records
    from lbgap.core.train import compute_device
    from lbgap.measure import advice

    if a.record:
        records.check_name(a.record, "record name")   # before the run, not after it
    device = compute_device(a.device)
    torch.manual_seed(a.seed)
    model, data = advice.load_inputs(a.model, a.data, a.examples)
    data.target = device
    model = model.to(device)
    loss = torch.nn.functional.cross_entropy if a.loss == "cross_entropy" else torch.nn.functional.mse_loss
    bar = []   # opened at the first step, so that a bad setting is one line without a bar

    def progress(step: int) -> None:
        if not bar:
            bar.append(tqdm(total=a.steps, desc="short run", unit="step", leave=False))
        bar[0].update(1)

    try:
        result = advice.measure_along_run(model, loss, data, a.batch_size, a.steps, a.optimizer, a.lr, a.probe_every,
                                          a.b_small, a.chunks, a.seed, device, progress=progress)
    finally:
        for b in bar:
            b.close()
    for line in advice.report_lines(result, advice.lr_evidence()):
        print(line)
    if result.b_simple > 0 and result.ci[0] > 0:
        table = advice.tradeoff_table(result.b_simple)
        print("\nsteps and examples relative to their minima, (S/S_min - 1)(E/E_min - 1) = 1 with B_crit = B_simple:")
        labels = advice.TRADEOFF_LABELS
        print(table.rename(columns=labels).to_string(index=False, formatters={labels["steps_rel"]: "{:.2f}".format,
                                                                              labels["examples_rel"]: "{:.2f}".format}))
    if a.record:
        data_spec = a.data
        if a.data in advice.DATASET_NAMES:
            data_spec = f"{a.data} ({advice.named_split(a.data)} split, {len(data):,} training examples)"
        advice.write(result, a.record, a.results_dir, a.profile, device, model_spec=a.model, data_spec=data_spec,
                     loss=a.loss)
        print(f"record {a.record} written")
    return 0
