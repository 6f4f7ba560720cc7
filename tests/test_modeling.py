"""SimTrackModel behaviour: HF integration, attention backends, batching, loss, gradients, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from conftest import tiny_config, tiny_inputs
from transformers import AutoConfig, AutoModel

from simtrack_hf import SIMTRACK_VARIANTS, SimTrackConfig, SimTrackModel, SimTrackOutput
from simtrack_hf.modeling_simtrack import simtrack_loss


def enable_checkpointing(model: SimTrackModel) -> None:
    """Activation checkpointing under its current name, or the older `gradient_checkpointing_enable` (before
    transformers renamed it; both versions are tested)."""
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()


def make_model(seed: int = 0, **overrides) -> SimTrackModel:
    torch.manual_seed(seed)
    return SimTrackModel(tiny_config(**overrides)).eval()


def test_output_shapes_and_ranges():
    model = make_model()
    inputs = tiny_inputs(model.config, batch=2)
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
    grid = model.config.search_grid
    assert isinstance(out, SimTrackOutput)
    assert out.pred_boxes.shape == (2, 4)
    assert out.corner_logits.shape == (2, 2, grid, grid)
    assert out.scores.shape == (2,) and ((out.scores > 0) & (out.scores <= 1)).all()
    tokens = model.config.template_grid**2 + 1 + grid**2
    assert out.last_hidden_state.shape == (2, tokens, model.config.hidden_size)
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1
    assert out.hidden_states[0].shape[1] == tokens + model.config.foveal_grid**2
    assert out.loss is None and out.attentions is None


def test_scores_formula():
    model = make_model()
    with torch.no_grad():
        out = model(**tiny_inputs(model.config))
    probs = out.corner_logits.flatten(2).softmax(-1)
    assert torch.allclose(out.scores, (probs[:, 0].max(-1).values * probs[:, 1].max(-1).values).sqrt())


def test_auto_classes_resolve_simtrack(tmp_path):
    make_model().save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), SimTrackConfig)
    assert isinstance(AutoModel.from_pretrained(tmp_path), SimTrackModel)
    assert type(AutoModel.from_config(tiny_config())) is SimTrackModel


def test_trust_remote_code_without_package(tmp_path):
    from simtrack_hf.tools.hub import remote_code_registration

    model = make_model()
    folder = tmp_path / "remote"
    with remote_code_registration():  # scoped: later saves in this process write no code files
        model.save_pretrained(folder)
    assert (folder / "modeling_simtrack.py").exists() and (folder / "configuration_simtrack.py").exists()
    inputs = tiny_inputs(model.config)
    torch.save(inputs, tmp_path / "inputs.pt")
    with torch.no_grad():
        expected = model(**inputs).pred_boxes
    script = f"""
import sys
sys.modules["simtrack_hf"] = None  # make the package unimportable: only the Hub-style remote code may be used
import torch
from transformers import AutoModel
model = AutoModel.from_pretrained({str(folder)!r}, trust_remote_code=True).eval()
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
inputs = torch.load({str(tmp_path / "inputs.pt")!r}, weights_only=True)
with torch.no_grad():
    torch.save(model(**inputs).pred_boxes, {str(tmp_path / "out.pt")!r})
"""
    env = {"HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules"), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=tmp_path, timeout=300)
    assert torch.equal(torch.load(tmp_path / "out.pt", weights_only=True), expected)


def test_return_dict_false_tuple_order():
    model = make_model()
    inputs = tiny_inputs(model.config)
    labels = torch.tensor([[0.5, 0.5, 0.3, 0.3], [0.4, 0.6, 0.2, 0.5]])
    with torch.no_grad():
        out = model(**inputs, labels=labels)
        tup = model(**inputs, labels=labels, return_dict=False)
    assert isinstance(tup, tuple)
    expected = [out.loss, out.loss_dict, out.pred_boxes, out.scores, out.corner_logits, out.last_hidden_state]
    assert len(tup) == len(expected)
    assert tup[1].keys() == {"giou_loss", "l1_loss", "mean_iou", "num_degenerate"}
    for a, b in zip(tup[:1] + tup[2:], expected[:1] + expected[2:]):
        assert torch.equal(a, b)
    for name, value in out.loss_dict.items():
        assert torch.equal(tup[1][name], value) and torch.equal(value, simtrack_loss(out.pred_boxes, labels,
                                                                                     model.config)[name])


def test_deterministic():
    model = make_model()
    inputs = tiny_inputs(model.config)
    with torch.no_grad():
        assert torch.equal(model(**inputs).pred_boxes, model(**inputs).pred_boxes)
    assert torch.equal(make_model(seed=3).bottleneck.weight, make_model(seed=3).bottleneck.weight)


@pytest.mark.parametrize("checkpointing", [False, True])
def test_backward_gives_finite_grads_for_every_parameter(checkpointing):
    model = make_model().train()
    if checkpointing:
        enable_checkpointing(model)
    inputs = tiny_inputs(model.config, batch=3)
    labels = torch.tensor([[0.5, 0.5, 0.3, 0.3], [0.4, 0.6, 0.2, 0.5], [0.6, 0.4, 0.4, 0.2]])
    out = model(**inputs, labels=labels)
    out.loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_loss_matches_definition():
    config = tiny_config()
    pred = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.3, 0.3, 0.2, 0.4]])
    labels = torch.tensor([[0.5, 0.5, 0.4, 0.4], [0.3, 0.3, 0.2, 0.4]])
    parts = simtrack_loss(pred, labels, config)
    # sample 0: IoU 0.04/0.16 = 0.25, hull = union -> GIoU 0.25; sample 1 identical -> GIoU 1
    assert torch.isclose(parts["giou_loss"], torch.tensor((0.75 + 0.0) / 2))
    assert torch.isclose(parts["l1_loss"], torch.tensor(0.1 * 4 / 8))
    assert torch.isclose(parts["loss"], 2 * parts["giou_loss"] + 5 * parts["l1_loss"])
    assert torch.isclose(parts["mean_iou"], torch.tensor(0.625))


def test_loss_target_clamped_and_degenerate_prediction_per_sample():
    config = tiny_config()
    labels = torch.tensor([[0.5, 0.5, 0.4, 0.4], [0.9, 0.5, 0.4, 0.4]])  # second target overhangs: clamped
    pred = torch.tensor([[0.5, 0.5, 0.4, 0.4], [0.5, 0.5, -0.1, 0.2]], requires_grad=True)  # second degenerate
    parts = simtrack_loss(pred, labels, config)
    assert parts["num_degenerate"] == 1
    assert torch.isclose(parts["giou_loss"], torch.tensor(0.0))  # only sample 0 (perfect) in the GIoU mean
    assert parts["l1_loss"] > 0
    parts["loss"].backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[1].abs().sum() > 0
    all_degenerate = simtrack_loss(torch.tensor([[0.5, 0.5, -0.1, 0.2]]), labels[:1], config)
    assert all_degenerate["giou_loss"] == 0 and all_degenerate["loss"] > 0


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda i: i.update(template_pixel_values=i["template_pixel_values"][:, :, :32]), "template_pixel_values"),
        (lambda i: i.update(search_pixel_values=torch.zeros(2, 3, 224, 224)), "search_pixel_values"),
        (lambda i: i.update(search_pixel_values=i["search_pixel_values"][:1]), "batch sizes differ"),
        (lambda i: i.update(template_boxes=torch.tensor([[0.1, 0.1, float("nan"), 0.2]] * 2)), "NaN"),
        (lambda i: i.update(template_boxes=torch.tensor([[0.1, 0.1, 0.0, 0.2]] * 2)), "positive width"),
        (lambda i: i.update(template_boxes=torch.tensor([[0.1, 0.1, 0.3]] * 2)), "shape"),
    ],
)
def test_bad_inputs_raise_value_error(change, message):
    model = make_model()
    inputs = tiny_inputs(model.config)
    change(inputs)
    with pytest.raises(ValueError, match=message):
        model(**inputs)


def test_bad_labels_raise():
    model = make_model()
    with pytest.raises(ValueError, match="NaN"):
        model(**tiny_inputs(model.config), labels=torch.tensor([[0.5, 0.5, float("nan"), 0.1]] * 2))


def test_config_variants_and_validation():
    assert set(SIMTRACK_VARIANTS) == {"sim-b32", "sim-b16", "sim-b16star", "sim-l14"}
    b32 = SimTrackConfig.from_variant("sim-b32")
    assert (b32.template_size, b32.search_size, b32.foveal_size, b32.foveal_shift, b32.search_grid) == (128, 320, 64, True, 10)
    assert SimTrackConfig.from_variant("Sim-B/16*").num_hidden_layers == 8
    l14 = SimTrackConfig.from_variant("sim-l14")
    assert (l14.hidden_size, l14.num_attention_heads, l14.foveal_window_offset, l14.template_factor) == (1024, 16, 21, 1.5)
    assert SimTrackConfig().to_dict()["template_size"] == 112
    with pytest.raises(ValueError, match="unknown SimTrack variant"):
        SimTrackConfig.from_variant("sim-h14")
    with pytest.raises(ValueError, match="multiple of patch_size"):
        SimTrackConfig(template_size=100)
    with pytest.raises(ValueError, match="divisible by num_attention_heads"):
        SimTrackConfig(hidden_size=100, num_attention_heads=3)


@pytest.mark.parametrize("scheme", ["pytorch", "normal"])
def test_new_layers_start_as_configured(scheme):
    """pos_fc, bottleneck and corner head: PyTorch's default (the original's, for the variants trained from CLIP) or
    normal(0, 0.02) with zero biases (the presets); the backbone is normal(0, 0.02) either way."""
    model = make_model(new_layer_init=scheme)
    head = model.box_head
    new_layers = [*model.embeddings.pos_fc[::2], model.bottleneck, head.conv1_tl[0], head.conv4_br[0], head.conv5_tl]
    for layer in new_layers:
        bound = 1 / layer.weight[0].numel() ** 0.5
        weight, bias = layer.weight.abs().max().item(), layer.bias.abs().max().item()
        if scheme == "pytorch":
            assert 0.5 * bound < weight <= bound and 0 < bias <= bound, layer
        else:
            assert weight < 0.15 and bias == 0, layer
    assert model.embeddings.pos_fc[0].weight.std().item() == pytest.approx(3**-1, rel=0.3 if scheme == "pytorch" else 10)
    assert model.encoder.layers[0].self_attn.q_proj.weight.abs().max().item() < 0.15
    assert model.encoder.layers[0].self_attn.q_proj.bias.abs().max().item() == 0


def test_variants_use_the_original_initialisation_and_presets_their_own():
    assert {SimTrackConfig.from_variant(name).new_layer_init for name in SIMTRACK_VARIANTS} == {"pytorch"}
    assert {SimTrackConfig.from_variant(name).new_layer_init for name in ("tiny", "small", "compact")} == {"normal"}
    with pytest.raises(ValueError, match="new_layer_init must be one of"):
        SimTrackConfig(new_layer_init="xavier")


def test_loading_checkpoint_of_other_size_fails(tmp_path):
    from simtrack_hf.loading import load_pretrained

    make_model().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="wrong variant"):
        load_pretrained(tmp_path, hidden_size=64, num_attention_heads=2)


def test_cached_template_embeddings_are_exact():
    model = make_model()
    inputs = tiny_inputs(model.config, batch=2)
    with torch.no_grad():
        full = model(**inputs)
        cached = model.embed_template(inputs["template_pixel_values"], inputs["template_boxes"])
        reused = model(search_pixel_values=inputs["search_pixel_values"], template_embeddings=cached)
    assert torch.equal(full.pred_boxes, reused.pred_boxes)
    assert torch.equal(full.corner_logits, reused.corner_logits)
    with pytest.raises(ValueError, match="template_embeddings"):
        model(search_pixel_values=inputs["search_pixel_values"])
