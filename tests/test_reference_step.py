"""One training step against the original SimTrack code's (fixtures/train_step_reference.*, made by its training
actor: GIoU x2 + L1 x5, train-mode BatchNorm, batch 3, tiny random weights, Sim-B/16 crop geometry).

Tolerances: loss within 1e-6 relative; each parameter's gradient within 1e-4 of that gradient's largest magnitude.
Gradients that are analytically zero (attention `k_proj.bias`, corner-head convolutions followed by a train-mode
BatchNorm, the heatmap-logit `conv5_*` biases) are rounding noise in both; they must stay below 1e-6 of the model's
largest gradient magnitude.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from conftest import FIXTURES
from safetensors.torch import load_file

from simtrack_hf import SimTrackConfig, SimTrackModel
from simtrack_hf.modeling_simtrack import box_cxcywh_to_xyxy

ANALYTICALLY_ZERO = ("self_attn.k_proj.bias", "_tl.0.bias", "_br.0.bias", "conv5_tl.bias", "conv5_br.bias")


@pytest.fixture(scope="module")
def reference() -> tuple[dict, dict[str, torch.Tensor]]:
    meta = json.loads((FIXTURES / "train_step_reference.json").read_text())
    return meta, load_file(FIXTURES / "train_step_reference.safetensors")


def run_step(reference, case: str) -> tuple[SimTrackModel, torch.Tensor, object, dict[str, torch.Tensor]]:
    """Model in train mode with the fixture weights, its output on the case's batch, and the batch."""
    meta, tensors = reference
    config = SimTrackConfig(**meta["config"])
    config._attn_implementation = meta["attn_implementation"]
    model = SimTrackModel(config)
    model.load_state_dict({k.removeprefix("weights."): v for k, v in tensors.items() if k.startswith("weights.")})
    model.train()
    info = meta["cases"][case]
    generator = torch.Generator().manual_seed(info["pixel_seed"])
    template = torch.randn(3, 3, 112, 112, generator=generator)
    search = torch.randn(3, 3, 224, 224, generator=generator)
    # the regenerated crops are the ones the original saw
    assert template.double().sum().item() == pytest.approx(info["template_sum"], abs=1e-9)
    assert search.double().sum().item() == pytest.approx(info["search_sum"], abs=1e-9)
    labels = tensors[f"{case}.inputs.labels"]
    outputs = model(template_pixel_values=template, search_pixel_values=search,
                    template_boxes=tensors[f"{case}.inputs.template_boxes"], labels=labels)
    return model, labels, outputs, tensors


def assert_gradients_match(model: SimTrackModel, tensors: dict[str, torch.Tensor], case: str) -> None:
    grads = {k.removeprefix(f"{case}.grads."): v for k, v in tensors.items() if k.startswith(f"{case}.grads.")}
    names = [name for name, _ in model.named_parameters()]
    assert sorted(names) == sorted(grads)
    largest = max(g.abs().max().item() for g in grads.values())
    for name, param in model.named_parameters():
        ours, theirs = param.grad, grads[name]
        if name.endswith(ANALYTICALLY_ZERO):
            assert ours.abs().max().item() <= 1e-6 * largest, name
            assert theirs.abs().max().item() <= 1e-6 * largest, name
        else:
            scale = theirs.abs().max().item()
            assert (ours - theirs).abs().max().item() <= 1e-4 * scale, name


def assert_running_stats_match(model: SimTrackModel, tensors: dict[str, torch.Tensor], case: str) -> None:
    stats = {k.removeprefix(f"{case}.running_after."): v for k, v in tensors.items()
             if k.startswith(f"{case}.running_after.")}
    buffers = dict(model.named_buffers())
    assert stats
    for name, value in stats.items():
        torch.testing.assert_close(buffers[name], value, rtol=0, atol=1e-6)


def test_training_step_matches_the_original(reference):
    model, _, outputs, tensors = run_step(reference, "valid")
    original = reference[0]["cases"]["valid"]["original_loss"]
    assert outputs.loss.item() == pytest.approx(original["loss"], rel=1e-6)
    assert outputs.loss_dict["giou_loss"].item() == pytest.approx(original["giou"], rel=1e-6)
    assert outputs.loss_dict["l1_loss"].item() == pytest.approx(original["l1"], rel=1e-6)
    assert outputs.loss_dict["mean_iou"].item() == pytest.approx(original["iou"], rel=1e-4)
    outputs.loss.backward()
    assert_gradients_match(model, tensors, "valid")
    assert_running_stats_match(model, tensors, "valid")


def naive_giou(a: list[float], b: list[float]) -> float:
    """GIoU of two xyxy boxes, written out (independent of the model's batched version)."""
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = area(a) + area(b) - iw * ih
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return iw * ih / union - (hull - union) / hull


def test_degenerate_box_rule_against_the_original(reference):
    """The original zeroes the GIoU term of the whole batch when one predicted box has x2 < x1; the port drops only
    that sample from the GIoU mean. Pinned exactly: port loss = original loss + giou_weight x mean(1 - GIoU) over
    the valid samples, the L1 term is the original's, and without that GIoU term the gradients are the original's."""
    model, labels, outputs, tensors = run_step(reference, "degenerate")
    info = reference[0]["cases"]["degenerate"]
    original, config = info["original_loss"], model.config
    assert original["giou"] == 0.0  # the original's rule: no GIoU term at all
    pred = box_cxcywh_to_xyxy(outputs.pred_boxes)
    target = box_cxcywh_to_xyxy(labels).clamp(0.0, 1.0)
    valid = [bool(v) for v in (pred[:, 2:] >= pred[:, :2]).all(-1)]
    assert valid == info["pred_boxes_valid"] == [True, True, False]
    assert outputs.loss_dict["l1_loss"].item() == pytest.approx(original["l1"], rel=1e-6)
    giou = [naive_giou(p, t) for p, t, ok in zip(pred.tolist(), target.tolist(), valid) if ok]
    giou_term = sum(1 - g for g in giou) / len(giou)
    assert outputs.loss_dict["giou_loss"].item() == pytest.approx(giou_term, rel=1e-6)
    assert outputs.loss.item() == pytest.approx(original["loss"] + config.giou_loss_weight * giou_term, rel=1e-6)
    assert outputs.loss.item() - original["loss"] > 1.0  # the rules really differ on this batch

    (config.l1_loss_weight * F.l1_loss(pred, target)).backward()  # the original's loss on this batch
    assert_gradients_match(model, tensors, "degenerate")
    assert_running_stats_match(model, tensors, "degenerate")
