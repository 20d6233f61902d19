"""Model registry, ENet structure, checkpoint loading and ONNX export."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from seg_core.data.classes import NUM_CLASSES
from seg_core.models import (
    MODEL_NAMES, WeightsError, build_model, default_weights, load_weights, save_checkpoint,
)
from seg_core.models.enet import ENet, max_unpool2x
from seg_core.models.onnx_export import export_onnx, max_abs_difference



@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_returns_logits_at_input_size(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 128, 256))
    assert out.shape == (2, NUM_CLASSES, 128, 256)
    assert torch.isfinite(out).all()


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="unknown model 'segnet'"):
        build_model("segnet")
    with pytest.raises(ValueError, match="unknown model"):
        default_weights("segnet")


def test_class_count_is_configurable():
    with torch.inference_mode():
        assert build_model("enet", num_classes=5).eval()(torch.zeros(1, 3, 64, 64)).shape[1] == 5


def test_enet_structure_follows_the_paper():
    model = ENet(NUM_CLASSES)
    assert model.initial.conv.out_channels == 13  # + 3 max-pooled input channels = 16
    assert len(model.stage1) == 4 and len(model.stage2) == 8 and len(model.stage3) == 8
    assert len(model.stage4) == 2
    kernels = {m.kernel_size for m in model.stage2.modules() if isinstance(m, nn.Conv2d)}
    assert {(5, 1), (1, 5)} <= kernels
    dilations = [m.dilation[0] for m in model.stage3.modules()
                 if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert dilations == [1, 2, 4, 1, 8, 16]
    assert any(isinstance(m, nn.PReLU) for m in model.modules())
    assert any(isinstance(m, nn.Dropout2d) for m in model.modules())
    assert 0.3e6 < sum(p.numel() for p in model.parameters()) < 0.45e6  # paper: 0.37 M


def test_enet_rejects_sizes_not_divisible_by_8():
    with pytest.raises(ValueError, match="divisible by 8"):
        ENet(NUM_CLASSES)(torch.zeros(1, 3, 60, 64))


def test_max_unpool_matches_torch():
    x = torch.randn(2, 4, 8, 12)
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    assert torch.equal(max_unpool2x(pooled, indices), F.max_unpool2d(pooled, indices, 2))


def test_checkpoint_round_trip_in_fp16(tmp_path):
    model = build_model("enet").eval()
    path = tmp_path / "enet.pt"
    save_checkpoint(model, path, "enet", NUM_CLASSES, fp16=True, input_size=[64, 32])
    assert torch.load(path, weights_only=True)["state_dict"]["fullconv.weight"].dtype == torch.float16
    fresh = build_model("enet").eval()
    meta = load_weights(fresh, path)
    assert meta["model"] == "enet" and meta["input_size"] == [64, 32]
    assert fresh.fullconv.weight.dtype == torch.float32
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(model(x), fresh(x), atol=0.05)


def test_bare_state_dict_loads(tmp_path):
    model = build_model("icnet")
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    assert load_weights(build_model("icnet"), tmp_path / "bare.pt") == {}


def test_load_errors_name_every_problem(tmp_path):
    state = build_model("enet", num_classes=5).state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["initial.bn.bias"]
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(WeightsError) as err:
        load_weights(build_model("enet"), tmp_path / "bad.pt")
    message = str(err.value)
    assert "missing keys (1): initial.bn.bias" in message
    assert "unexpected keys (1): extra.weight" in message
    assert "fullconv.weight: expected (16, 19, 2, 2), got (16, 5, 2, 2)" in message
    assert "fullconv.bias: expected (19,), got (5,)" in message


def test_missing_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_weights(build_model("enet"), tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read"):
        load_weights(build_model("enet"), tmp_path / "junk.pt")
    with pytest.raises(WeightsError, match="cannot read .*junk.pt: not a PyTorch checkpoint"):
        load_weights(build_model("enet"), tmp_path / "junk.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(WeightsError, match="expected a state dict"):
        load_weights(build_model("enet"), tmp_path / "list.pt")


@pytest.mark.parametrize("name", ["enet", "icnet"])
def test_onnx_export_matches_torch(tmp_path, name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    path = export_onnx(model, tmp_path / f"{name}.onnx", (128, 128))
    assert max_abs_difference(model, path, (128, 128)) < 1e-3


class _RunsCode:
    """A pickle payload: unpickling it runs a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_with_one_line(tmp_path):
    marker = tmp_path / "the-payload-ran"
    torch.save({"state_dict": build_model("enet").state_dict(), "extra": _RunsCode(marker)}, tmp_path / "evil.pt")
    with pytest.raises(WeightsError) as err:
        load_weights(build_model("enet"), tmp_path / "evil.pt")
    message = str(err.value)
    assert "refused to load" in message and "GLOBAL posix.system" in message and "weights_only=True" in message
    assert "\n" not in message
    assert not marker.exists()
