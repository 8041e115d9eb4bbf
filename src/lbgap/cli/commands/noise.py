"""``lbgap noise scan|track``: gradient noise against the minibatch size, and B_simple along an SB run
(``lbgap.measures.noise``)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import store_options
from lbgap.cli import options as opt


def add_parser(sub) -> None:
    p = sub.add_parser("noise", help="gradient noise: variance vs minibatch size, B_simple along an SB run")
    p.add_argument("action", choices=["scan", "track"], help="scan: gradient variance vs minibatch size at the "
                   "points of --at; track: B_simple along a fresh SB run")
    p.add_argument("--at", default="init,sb,lb", help="scan: init, sb, lb, track (comma-separated)")
    p.add_argument("--seed", type=opt.seed, default=0, help="seed of the run and the minibatch draws, a whole "
                   "number >= 0 (default 0)")
    p.add_argument("--draws", type=opt.positive_int, default=16, help="scan: minibatches per size")
    p.add_argument("--m-max", type=opt.positive_int, default=None, help="scan: largest minibatch size (default the LB size)")
    p.add_argument("--profile", default="quick", type=opt.profile_name, help="where the records go: quick (real MNIST) or smoke")
    p.add_argument("--ckpt-profile", default="paper", type=opt.profile_name, help="scan: profile of the SB/LB training checkpoints")
    p.add_argument("--epochs", type=opt.positive_float, default=2.0, help="track: length of the SB run")
    p.add_argument("--probe-every", type=opt.positive_int, default=10, help="track: steps between probes")
    p.add_argument("--batch-size", type=opt.positive_int, default=256, help="track: batch size of the run (SB)")
    p.add_argument("--lr", type=opt.positive_float, default=1e-3, help="track: Adam learning rate")
    p.add_argument("--b-small", type=opt.positive_int, default=64, help="track: chunk size B_small")
    p.add_argument("--chunks", type=opt.positive_int, default=16, help="track: chunks per probe (B_big = chunks x B_small)")
    p.add_argument("--target", type=float, default=0.95, help="track: B_simple is summarised at this val acc")
    store_options(p, threads=1)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.measures import noise

    if a.action == "scan":
        for which in [w.strip() for w in a.at.split(",") if w.strip()]:
            rec = noise.run_scan(which, a.seed, a.profile, a.ckpt_profile, a.draws, a.results_dir, a.force,
                                 m_max=a.m_max)
            fit = noise.fit_slope(rec)
            print(f"{'skipped' if rec.get('skipped') else 'done'} {rec['run_id']}: slope {fit['slope']:.3f} "
                  f"± {fit['slope_se']:.3f}, B_simple {fit['b_simple']:.0f}")
    else:
        rec = noise.track_noise_scale(a.seed, a.profile, a.batch_size, a.lr, a.epochs, a.probe_every, a.b_small,
                                      a.chunks, a.results_dir, a.force)
        s = noise.b_simple_summary(rec, a.target)
        print(f"{'skipped' if rec.get('skipped') else 'done'} {rec['run_id']}: B_simple at val acc "
              f"{a.target:.0%} = {s['b_simple']:.0f} (95% CI {s['ci'][0]:.0f}-{s['ci'][1]:.0f}); "
              f"{s['init']:.0f} at initialisation")
    return 0
