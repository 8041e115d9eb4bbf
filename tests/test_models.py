import pytest
import torch

from lbgap.core.models import NETS, build_model, count_parameters, keras_cross_entropy

PAPER_COUNTS = {"F1": 1_462_794, "F2": 2_780_085, "C1": 1_757_834, "C3": 1_775_204,
                "C2": 14_991_946, "C4": 15_038_116}


@pytest.mark.parametrize("net", list(PAPER_COUNTS))
def test_parameter_counts_match_the_paper(net):
    assert count_parameters(build_model(net)) == PAPER_COUNTS[net]


@pytest.mark.parametrize("net", list(NETS))
def test_output_shapes(net):
    spec = NETS[net]
    model = build_model(net).eval()
    x = torch.rand((3,) + spec.input_shape)
    assert model(x).shape == (3, spec.num_classes)


def test_glorot_init_and_zero_biases():
    torch.manual_seed(0)
    model = build_model("F1")
    lin = model.net[1]
    bound = (6 / (784 + 512)) ** 0.5
    assert lin.weight.abs().max() <= bound and lin.weight.abs().max() > 0.9 * bound
    assert torch.count_nonzero(lin.bias) == 0


def test_same_seed_same_initial_weights():
    torch.manual_seed(3)
    a = build_model("C1")
    torch.manual_seed(3)
    b = build_model("C1")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_bn_batch_mode_depends_on_eval_batch_but_running_mode_does_not():
    torch.manual_seed(0)
    x = torch.rand(8, 1, 28, 28)
    for bn, depends in (("batch", True), ("running", False)):
        torch.manual_seed(0)
        model = build_model("F1", bn=bn)
        model.train()
        model(torch.rand(64, 1, 28, 28))  # one training forward (updates running stats in 'running' mode)
        model.eval()
        full = model(x)[:4]
        half = model(x[:4])
        assert torch.allclose(full, half, atol=1e-5) != depends, bn


def test_bn_batch_mode_has_no_running_stats():
    model = build_model("C1", bn="batch")
    assert not any("running_mean" in k for k in model.state_dict())


def test_keras_cross_entropy_matches_torch_and_clips():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 0.0]])
    y = torch.tensor([0, 2])
    assert torch.allclose(keras_cross_entropy(logits, y), torch.nn.functional.cross_entropy(logits, y))
    extreme = torch.tensor([[100.0, -100.0]])
    loss = keras_cross_entropy(extreme, torch.tensor([1]))
    assert loss.item() == pytest.approx(-torch.log(torch.tensor(1e-7)).item(), rel=1e-5)  # clipped at 16.12


def test_unknown_network_and_bn_mode_are_clear_errors():
    with pytest.raises(ValueError, match="unknown network"):
        build_model("F9")
    with pytest.raises(ValueError, match="BatchNorm"):
        build_model("F1", bn="ghost")
