"""``lbgap sweep steps-to-target``: steps to a validation-accuracy target against the batch size, after
Shallue et al. (``lbgap.studies.steps``)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import store_options
from lbgap.cli import options as opt

# lbgap.studies.steps's networks, repeated so that building the parser needs no torch (tests/test_cli.py).
NETS = ("F1", "C1")


def add_parser(grids) -> None:
    p = grids.add_parser("steps-to-target", help="Shallue et al.: steps to a validation-accuracy target vs B")
    p.add_argument("--net", default="F1", type=str.upper, choices=NETS, help="F1 (MNIST, default) or C1 (CIFAR-10, "
                   "its 45k/5k hold-out; 10-15 min per run on a CPU thread)")
    p.add_argument("--batch-sizes", default=None, help="comma-separated whole numbers (default: the network's, F1 "
                   "16,32,64,128,256,512,1024,2048,5500; C1 32,64,128,256,512,1024,2048,4500)")
    p.add_argument("--optimizers", default="adam,sgd", help="adam, sgd (momentum 0.9) or both")
    p.add_argument("--seeds", default="0-2", type=opt.seeds, help="the first seed tunes the LR; the others rerun the best LR")
    p.add_argument("--target", type=float, default=None, help="validation accuracy to reach (default: the "
                   "network's, F1 0.95, C1 0.70)")
    p.add_argument("--min-epochs", type=opt.positive_float, default=1.0, help="Adam lr 1e-3 runs train at least this long (fixed-budget read-out)")
    p.add_argument("--max-epochs", type=opt.positive_float, default=6.0, help="cap in epochs")
    p.add_argument("--max-steps", type=opt.positive_int, default=4000, help="cap in steps")
    p.add_argument("--fixed-lr-seeds", action="store_true", help="also run Adam lr 1e-3 on every seed")
    p.add_argument("--profile", default="quick", type=opt.profile_name, help="quick (real data) or smoke (synthetic)")
    p.add_argument("--device", default=None, type=opt.device, help="auto | cpu | cuda[:N] (default: the profile's)")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16"],
                   help="auto | fp32 | bf16 (default: the profile's; auto = bf16 autocast on CUDA, fp32 on a CPU); "
                   "one study keeps one precision")
    store_options(p, threads=1)
    p.set_defaults(func=run)


def batch_sizes(text: str) -> list[int]:
    """``--batch-sizes 16,64,256`` -> [16, 64, 256]."""
    try:
        vals = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"batch sizes {text!r} must be comma-separated integers like 16,64,256") from None
    if not vals or min(vals) < 1:
        raise ValueError(f"batch sizes {text!r} must be positive integers")
    return vals


def run(a: argparse.Namespace) -> int:
    from lbgap.core.sweep import parse_seeds
    from lbgap.studies import steps

    opts = [o.strip() for o in a.optimizers.split(",") if o.strip()]
    for o in opts:
        steps.lr_grid(o, 256)  # validates the name
    sizes = batch_sizes(a.batch_sizes) if a.batch_sizes else list(steps.BATCH_SIZES[a.net])
    recs = steps.sweep(sizes, opts, parse_seeds(a.seeds), a.profile, a.target, a.results_dir, a.force,
                       fixed_lr_seeds=a.fixed_lr_seeds, net=a.net, device=a.device, precision=a.precision,
                       max_epochs=a.max_epochs, max_steps=a.max_steps, min_epochs=a.min_epochs)
    print(f"steps-to-target sweep ({a.net}, {a.profile}): {len(recs)} runs, "
          f"{sum(r.get('skipped', False) for r in recs)} skipped")
    return 0
