"""Parity with the original SimTrack implementation (fixtures made by running it, see tests/fixtures/README)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import fixture_config

from simtrack_hf import SimTrackConfig, SimTrackModel
from simtrack_hf.convert_simtrack import convert_original_state_dict

KEY_LISTS = {
    "sim-b16": "state_dict_keys_Sim-B16.txt",
    "sim-b32": "state_dict_keys_Sim-B32.txt",
    "sim-l14": "state_dict_keys_Sim-L14.txt",
    "sim-b16star": "state_dict_keys_Sim-B16star_last4_removed.txt",
}
KEY_LIST_FOLDER = Path(__file__).parent / "fixtures" / "state_dict_keys"


def converted_model(fixture: dict, name: str, attn: str = "eager", released_shift: bool = False) -> SimTrackModel:
    config = fixture_config(name)
    if released_shift:
        config.foveal_shift = False
    config._attn_implementation = attn
    model = SimTrackModel(config).eval()
    model.load_state_dict(convert_original_state_dict(fixture["state_dict"], config))
    return model


def max_diff(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return (ours - ref.reshape(ours.shape)).abs().max().item()


@pytest.mark.parametrize("name", ["tiny_b16", "tiny_b32"])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_forward_matches_original(fixtures, name, attn):
    fx = fixtures[name]
    model = converted_model(fx, name, attn)
    inputs = fx["inputs"]
    with torch.no_grad():
        out = model(inputs["search"], inputs["template"], inputs["template_anno_xywh_norm"], output_hidden_states=True)
    ref, mid = fx["outputs"], fx["intermediates"]
    assert max_diff(out.pred_boxes, ref["pred_boxes_cxcywh"]) < 1e-5
    logits_ref = torch.cat((ref["score_map_tl"], ref["score_map_br"]), 1)
    assert max_diff(out.corner_logits, logits_ref) < 1e-5 * logits_ref.abs().max().item()
    assert max_diff(out.last_hidden_state, ref["backbone_out"]) < 1e-4
    # hidden_states[0] is the encoder input: the concatenated sequence after ln_pre, exact.
    assert max_diff(out.hidden_states[0], mid["tokens_after_ln_pre"]) == 0.0
    assert max_diff(out.hidden_states[-1], mid["transformer_out_LND"].transpose(0, 1)) < 1e-4
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1


@pytest.mark.parametrize("name", ["tiny_b16", "tiny_b32"])
def test_embeddings_match_original_exactly(fixtures, name):
    fx = fixtures[name]
    model = converted_model(fx, name)
    inputs, mid = fx["inputs"], fx["intermediates"]
    emb = model.embeddings
    with torch.no_grad():
        pos_in = emb.pos_fc_inputs(inputs["template_anno_xywh_norm"])
        assert max_diff(pos_in.reshape(-1, 3), mid["pos_fc_in"]) == 0.0
        assert max_diff(emb.pos_fc(pos_in).flatten(0, 1), mid["pos_fc_out"]) == 0.0
        assert max_diff(emb.patchify(inputs["search"]), mid["conv1_search_out"].flatten(2).transpose(1, 2)) == 0.0
        tokens = emb(inputs["search"], emb.embed_template(inputs["template"], inputs["template_anno_xywh_norm"]))
        assert max_diff(tokens, mid["tokens_before_ln_pre"]) == 0.0


def test_foveal_window_b16_is_centred_crop(fixtures):
    fx = fixtures["tiny_b16"]
    config = fixture_config("tiny_b16")
    o, f = config.foveal_window_offset, config.foveal_size
    assert (o, f) == (24, 64)
    crop = fx["inputs"]["template"][:, :, o : o + f, o : o + f]
    assert torch.equal(crop, fx["intermediates"]["conv1_foveal_in"])


def test_foveal_window_b32_is_half_patch_shifted(fixtures):
    fx = fixtures["tiny_b32"]
    config = fixture_config("tiny_b32")
    assert config.foveal_window_offset == 48  # pixels 48..111: shifted +16 px, not centred
    template = fx["inputs"]["template"]
    shifted = fx["intermediates"]["conv1_foveal_in"]  # the original shifts the whole template up-left by P/2
    assert torch.equal(shifted[:, :, :-16, :-16], template[:, :, 16:, 16:])
    assert torch.equal(shifted[:, :, 32:96, 32:96], template[:, :, 48:112, 48:112])
    model = converted_model(fx, "tiny_b32")
    with torch.no_grad():
        ours = model.embeddings.patchify(template[:, :, 48:112, 48:112])
    ref = fx["intermediates"]["conv1_foveal_out"][:, :, 1:3, 1:3].flatten(2).transpose(1, 2)
    assert max_diff(ours, ref) == 0.0


def test_b32_released_shift_flag_outputs(fixtures):
    """With foveal_shift=False our B/32 reproduces the original's released (unshifted) behaviour too."""
    fx = fixtures["tiny_b32"]
    model = converted_model(fx, "tiny_b32", released_shift=True)
    inputs = fx["inputs"]
    with torch.no_grad():
        out = model(inputs["search"], inputs["template"], inputs["template_anno_xywh_norm"])
    ref = fx["outputs_with_released_shift_flag"]
    assert max_diff(out.pred_boxes, ref["pred_boxes_cxcywh"]) < 1e-5
    shifted = fx["outputs"]["pred_boxes_cxcywh"]
    assert max_diff(out.pred_boxes, shifted) > 1e-4  # the flag matters for B/32


def test_one_dimensional_template_box_broadcasts(fixtures):
    fx = fixtures["tiny_b16"]
    model = converted_model(fx, "tiny_b16")
    inputs = fx["inputs"]
    box = inputs["template_anno_xywh_norm"][0]
    with torch.no_grad():
        a = model(inputs["search"], inputs["template"], box).pred_boxes
        b = model(inputs["search"], inputs["template"], box.expand(2, 4)).pred_boxes
    assert torch.equal(a, b)


def key_list(variant: str) -> dict[str, tuple[int, ...]]:
    lines = (KEY_LIST_FOLDER / KEY_LISTS[variant]).read_text().splitlines()
    shapes = {}
    for line in lines:
        if line.startswith("#") or not line.strip():
            continue
        key, shape, _ = line.split("\t")
        shapes[key] = tuple(int(x) for x in shape.strip("()").split(",") if x.strip())
    return shapes


@pytest.mark.parametrize("variant", sorted(KEY_LISTS))
def test_full_size_original_keys_map_and_parameter_counts(variant):
    shapes = key_list(variant)
    config = SimTrackConfig.from_variant(variant)
    meta = {k: torch.empty(s, device="meta") for k, s in shapes.items()}
    converted = convert_original_state_dict(meta, config)  # raises on any unmapped key or shape mismatch
    # The key lists count BN running stats but not the 8 scalar `num_batches_tracked` counters.
    original_total = sum(t.numel() for k, t in meta.items() if not k.endswith("num_batches_tracked"))
    header = (KEY_LIST_FOLDER / KEY_LISTS[variant]).read_text().splitlines()[0]
    assert f" {original_total} numbers" in header
    with torch.device("meta"):
        model = SimTrackModel(config)
    ours = sum(t.numel() for k, t in model.state_dict().items() if not k.endswith("num_batches_tracked"))
    assert ours == original_total - meta["backbone.visual.proj"].numel()  # we drop the unused CLIP `proj`
    assert set(converted) == set(model.state_dict())


def test_reference_parameter_counts():
    """Parameter counts of the original code (BatchNorm statistics included): 88.6 / 90.3 / 306.7 / 60.3 M."""
    expected = {"sim-b16": 88.6, "sim-b32": 90.3, "sim-l14": 306.7, "sim-b16star": 60.3}
    for variant, millions in expected.items():
        total = sum(torch.Size(shape).numel() for shape in key_list(variant).values())
        assert round(total / 1e6, 1) == millions
