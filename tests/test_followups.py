"""followups.py and what it adds to training (ghost BN, SAM, warm-up): checked against direct computations."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lbgap import cli
from lbgap.cli.commands import followups as c_followups
from lbgap.core import sam
from lbgap.core.models import build_model, ghost_batch_norm, use_ghost_batches
from lbgap.core.train import ConfigError, make_config, warmup_lr
from lbgap.studies import followups as fu


def _plain_bn(x, bn):
    return F.batch_norm(x, None, None, bn.weight, bn.bias, True, 0.0, bn.eps)


@pytest.mark.parametrize("shape", [(10, 3), (10, 3, 4, 4)])
def test_ghost_batch_norm_is_plain_bn_per_chunk(shape):
    torch.manual_seed(0)
    x = torch.randn(*shape) * 3 + 1
    bn = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(3, eps=1e-3, track_running_stats=False)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    assert torch.allclose(ghost_batch_norm(bn, x, 10), _plain_bn(x, bn), atol=1e-5)       # one chunk: plain BN
    halves = torch.cat([_plain_bn(x[:5], bn), _plain_bn(x[5:], bn)])
    assert torch.allclose(ghost_batch_norm(bn, x, 5), halves, atol=1e-5)
    three = torch.cat([_plain_bn(x[:4], bn), _plain_bn(x[4:8], bn), _plain_bn(x[8:], bn)])
    assert torch.allclose(ghost_batch_norm(bn, x, 4), three, atol=1e-5)                    # remainder of 2
    merged = torch.cat([_plain_bn(x[:3], bn), _plain_bn(x[3:6], bn), _plain_bn(x[6:], bn)])
    assert torch.allclose(ghost_batch_norm(bn, x, 3), merged, atol=1e-5)                   # a last 1 joins


def test_ghost_batches_change_training_only_and_keep_the_parameters():
    torch.manual_seed(0)
    plain = build_model("F1")
    ghost = use_ghost_batches(build_model("F1"), 4)
    ghost.load_state_dict(plain.state_dict())           # same parameter names: checkpoints load either way
    x = torch.randn(16, 1, 28, 28)
    plain.eval(), ghost.eval()
    assert torch.equal(plain(x), ghost(x))
    plain.train(), ghost.train()
    assert not torch.allclose(plain(x), ghost(x))
    with pytest.raises(ValueError, match="bn='batch'"):
        use_ghost_batches(build_model("F1", bn="running"), 4)


def test_sam_step_matches_the_hand_computed_step():
    # f(w) = 1/2 w^T A w: SAM's gradient is A (w + rho A w / ||A w||); SGD(lr) steps with it from w.
    A = torch.tensor([[3.0, 1.0], [1.0, 2.0]])
    w0 = torch.tensor([1.0, -2.0])
    w = nn.Parameter(w0.clone())
    opt = torch.optim.SGD([w], lr=0.1)
    rho = 0.05
    (0.5 * w @ A @ w).backward()
    e = sam.ascend([w], rho)
    opt.zero_grad()
    (0.5 * w @ A @ w).backward()
    sam.descend([w], e)
    opt.step()
    g = A @ w0
    expected = w0 - 0.1 * A @ (w0 + rho * g / g.norm())
    assert torch.allclose(w.detach(), expected, atol=1e-6)


def test_warmup_goes_linearly_from_the_start_lr_to_the_lr():
    cfg = make_config("F1", "LB", 0, "smoke", lr=0.01, warmup_epochs=2, warmup_from=0.001)
    lr_at = warmup_lr(cfg, steps_per_epoch=4)
    assert [round(lr_at(t), 6) for t in (0, 4, 8, 100)] == [0.001, 0.0055, 0.01, 0.01]
    assert warmup_lr(make_config("F1", "LB", 0, "smoke"), 4) is None
    with pytest.raises(ConfigError, match="ghost_batch=1"):
        make_config("F1", "LB", 0, "smoke", ghost_batch=1)
    with pytest.raises(ConfigError, match="SAM radius"):
        make_config("F1", "LB", 0, "smoke", sam_rho=-1)


def test_arms_follow_the_papers_rules():
    k = 6000 / 256   # F1 under the paper profile: B_LB = 10 % of 60,000
    lin = fu.arm_config("F1", "lr-linear", 0, "paper")
    assert (lin.batch_size, lin.warmup_epochs, lin.warmup_from) == (6000, 5, 1e-3)
    assert lin.lr == pytest.approx(1e-3 * k)
    assert fu.arm_config("F1", "lr-sqrt", 0, "paper").lr == pytest.approx(1e-3 * math.sqrt(k))
    reg = fu.arm_config("F1", "regime", 0, "paper")
    assert (reg.max_epochs, reg.patience) == (math.ceil(100 * k), math.ceil(10 * k))   # SB's cap and patience in updates
    hof = fu.arm_config("F1", "hoffer", 0, "paper")
    assert (hof.ghost_batch, hof.max_epochs, hof.warmup_epochs) == (128, reg.max_epochs, 0)
    sb = fu.arm_config("F1", "sb", 3, "paper")
    assert (sb.batch_size, sb.run_id) == (256, "F1-mnist-official-b256-s3-fu-sb")
    assert fu.arm_config("F1", "sam-0.05", 0, "paper").sam_rho == 0.05
    assert list(c_followups.ARM_NAMES) == list(fu.ARMS)      # the CLI's copy of the names (no torch at parse time)
    with pytest.raises(ValueError, match="unknown arm 'mixup'"):
        fu.parse_arms("lb,mixup")


@pytest.mark.slow
def test_sweep_records_every_arm_with_its_sharpness_and_the_summary_pairs_by_seed(tmp_path, checkpoints):
    assert cli.main(["sweep", "followups", "--net", "F1", "--profile", "smoke", "--seeds", "0-1",
                     "--arms", "sb,lb,sam-0.05", "--results-dir", str(tmp_path)]) == 0
    df = fu.runs_table(tmp_path, ("smoke",))
    assert len(df) == 6 and df.phi.gt(0).all() and df.hessian_top.notna().all()
    lb = df[df.arm == "lb"].iloc[0]
    assert lb.examples == lb.epochs * 128 and lb.steps == lb.epochs * 4       # 128 smoke examples in batches of 32
    s = fu.summary(df).set_index("arm")
    sb_acc = df[df.arm == "sb"].set_index("seed").test_acc
    lb_acc = df[df.arm == "lb"].set_index("seed").test_acc
    assert s.loc["lb", "gap_mean"] == pytest.approx((sb_acc - lb_acc).mean())
    assert s.loc["sb", "gap_mean"] == 0 and s.loc["lb", "n"] == 2


def test_replicate_tags_keep_sets_apart():
    assert fu.arm_tag("lr-linear") == "fu-lr-linear"
    assert fu.arm_tag("lr-linear", "cpu") == "fu-lr-linear+cpu"
    assert fu.parse_tag("fu-lr-linear+cpu") == ("lr-linear", "cpu")
    assert fu.parse_tag("fu-sam-0.05") == ("sam-0.05", "")
    assert fu.parse_tag("uncapped") is None and fu.parse_tag("fu-nonsense") is None
    with pytest.raises(ValueError, match="unknown replicate"):
        fu.arm_tag("lb", "tpu")


def test_sam_validation_runs_are_the_official_lb_on_the_hold_out_with_pinned_ids_and_hashes():
    """The radius-selection runs (``config.holdout_config``, shared with the tuned-LR grid): LB at the official
    split's size and cap on the hold-out split. Their run ids and config hashes key records and checkpoints: pinned."""
    from lbgap.core.checkpoints import config_hash
    from lbgap.core.config import holdout_config

    cfg = fu.sam_validation_config("F1", 0.05, "paper")
    assert (cfg.run_id, config_hash(cfg)) == ("F1-mnist-holdout-b6000-s0-fu-sam-0.05+val", "ac170ffd7e58")
    assert (cfg.split, cfg.batch_size, cfg.max_epochs, cfg.regime, cfg.sam_rho) == ("holdout", 6000, 300, "", 0.05)
    cpu = fu.sam_validation_config("F1", 0.2, "paper", device="cpu")
    assert (cpu.device, config_hash(cpu)) == ("cpu", "aaf6de93f0e0")
    assert fu.sam_validation_config("F1", 0.05, "smoke") == holdout_config("F1", "LB", 0, "smoke", sam_rho=0.05,
                                                                            tag="fu-sam-0.05+val")
    sb = holdout_config("F1", "SB", 3, "paper")
    assert (sb.split, sb.batch_size, sb.max_epochs, sb.seed, sb.regime) == ("holdout", 256, 100, 3, "SB")


def test_cpu_replicate_with_sam_radius_chosen_on_validation(tmp_path, checkpoints):
    """The CPU replicate's runs carry +cpu and never enter the first set's table; SAM's radius comes from hold-out
    runs (seed 0, official LB size), which are not arm runs."""
    out = fu.run("F1", seeds=[0], profile="smoke", arms=["lb", "sam-selected"], results_dir=tmp_path,
                        replicate="cpu", train_examples=64, hessian_examples=64)
    assert [o.status for o in out] == ["done"] * 5          # three radius checks, lb, the selected SAM
    val = fu.sam_validation_table("F1", tmp_path, "smoke")
    assert list(val.rho) == list(fu.SAM_RHOS)
    cfg = fu.sam_validation_config("F1", 0.05, "smoke")
    assert cfg.split == "holdout" and cfg.batch_size == fu.arm_config("F1", "lb", 0, "smoke").batch_size
    rho = fu.select_sam_rho("F1", tmp_path, "smoke")
    best = val.sort_values(["val_acc", "val_loss"], ascending=[False, True]).rho.iloc[0]
    assert rho == best
    assert fu.runs_table(tmp_path, ("smoke",)).empty                       # first set: none
    cpu = fu.runs_table(tmp_path, ("smoke",), replicate="cpu")
    assert sorted(cpu.arm) == sorted(["lb", f"sam-{rho:g}"]) and set(cpu.replicate) == {"cpu"}
    assert len(fu.runs_table(tmp_path, ("smoke",), replicate=None)) == 2
    cost = fu.cpu_time("F1", tmp_path, "smoke")                          # the replicate's own runs, by part
    assert {k: v["records"] for k, v in cost["parts"].items()} == {"selection": 3, "train": 2, "sharpness": 2}
    assert all(v["core_h"] > 0 for v in cost["parts"].values())
    assert fu.cpu_time("F1", tmp_path, "smoke", replicate="")["parts"]["train"]["records"] == 0


def test_the_cpu_replicate_takes_table2_runs_of_the_same_configuration_as_its_sb_and_lb(tmp_path, checkpoints):
    from lbgap.core import sweep
    from lbgap.core.train import make_config

    sb = make_config("F1", "SB", 0, "smoke", tag="uncapped")                   # Table 2's SB: the sb arm's config
    lb_other = make_config("F1", "LB", 0, "smoke", tag="uncapped", max_epochs=1)   # another cap: not a baseline
    ghost = fu.arm_config("F1", "ghost", 0, "smoke", "cpu")
    out = sweep.run_grid([sb, lb_other, ghost], tmp_path, "serial")
    assert [o.status for o in out] == ["done"] * 3
    cpu = fu.runs_table(tmp_path, ("smoke",), replicate="cpu")
    assert sorted(cpu.arm) == ["ghost", "sb"] and set(cpu.replicate) == {"cpu"}
    row = cpu[cpu.arm == "sb"].iloc[0]
    assert row.seed == 0 and row.epochs > 0
    assert fu.runs_table(tmp_path, ("smoke",)).empty                          # the first set takes none
    assert sorted(fu.runs_table(tmp_path, ("smoke",), replicate=None).arm) == ["ghost"]
