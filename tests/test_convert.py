"""Weight conversion: original checkpoints (CLI and function) and CLIP vision initialisation."""

from __future__ import annotations

import pytest
import torch
from conftest import fixture_config, tiny_config
from transformers import CLIPVisionConfig, CLIPVisionModel

from simtrack_hf import SimTrackConfig, SimTrackModel
from simtrack_hf.commands import main
from simtrack_hf.convert_simtrack import convert_original_state_dict, simtrack_from_clip_vision


@pytest.mark.parametrize("wrap", ["raw", "net", "module"])
def test_checkpoint_wrappings(fixtures, wrap):
    sd = dict(fixtures["tiny_b16"]["state_dict"])
    if wrap == "module":
        sd = {f"module.{k}": v for k, v in sd.items()}
    checkpoint = {"net": sd, "epoch": 3} if wrap == "net" else sd
    converted = convert_original_state_dict(checkpoint, fixture_config("tiny_b16"))
    assert "embeddings.pos_fc.0.weight" in converted and "backbone.visual.proj" not in converted
    q, k, v = (converted[f"encoder.layers.0.self_attn.{n}_proj.weight"] for n in "qkv")
    assert torch.equal(torch.cat((q, k, v)), sd[next(x for x in sd if x.endswith("resblocks.0.attn.in_proj_weight"))])


def test_wrong_variant_names_the_problem(fixtures):
    with pytest.raises(ValueError, match="shape mismatch") as info:
        convert_original_state_dict(fixtures["tiny_b16"]["state_dict"], fixture_config("tiny_b32"))
    assert "positional_embedding" not in str(info.value)  # reported with our names
    assert "embeddings.position_embedding.weight" in str(info.value)
    sd = dict(fixtures["tiny_b16"]["state_dict"])
    del sd["bottleneck.bias"]
    sd["backbone.visual.extra"] = torch.zeros(1)
    with pytest.raises(ValueError, match="unexpected keys"):
        convert_original_state_dict(sd, fixture_config("tiny_b16"))
    sd.pop("backbone.visual.extra")
    with pytest.raises(ValueError, match="missing.*bottleneck.bias"):
        convert_original_state_dict(sd, fixture_config("tiny_b16"))


def test_cli_convert_reproduces_original_boxes(fixtures, tmp_path, capsys):
    fx = fixtures["tiny_b32"]
    checkpoint = tmp_path / "SimTrack_ep0050.pth.tar"
    torch.save({"net": fx["state_dict"], "epoch": 50}, checkpoint)
    config_file = tmp_path / "tiny_b32.json"
    fixture_config("tiny_b32").to_json_file(config_file)
    main(["convert", "--checkpoint", str(checkpoint), "--config", str(config_file), "--output", str(tmp_path / "out")])
    assert "reloaded boxes match" in capsys.readouterr().out
    assert (tmp_path / "out" / "model.safetensors").exists()
    model = SimTrackModel.from_pretrained(tmp_path / "out").eval()
    inputs = fx["inputs"]
    with torch.no_grad():
        boxes = model(inputs["search"], inputs["template"], inputs["template_anno_xywh_norm"]).pred_boxes
    assert (boxes - fx["outputs"]["pred_boxes_cxcywh"][:, 0]).abs().max() < 1e-5


def test_cli_convert_wrong_variant_exits_with_message(fixtures, tmp_path, capsys):
    checkpoint = tmp_path / "b16.pth"
    torch.save(fixtures["tiny_b16"]["state_dict"], checkpoint)
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "--checkpoint", str(checkpoint), "--variant", "sim-b16", "--output", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "does not fit this SimTrackConfig" in capsys.readouterr().err


def tiny_clip(layers: int = 3, image_size: int = 224, patch: int = 16) -> CLIPVisionModel:
    torch.manual_seed(0)
    config = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=2,
        image_size=image_size, patch_size=patch, hidden_act="quick_gelu",
    )
    return CLIPVisionModel(config).eval()


def test_clip_initialisation_from_folder(tmp_path):
    clip = tiny_clip(layers=3)
    clip.save_pretrained(tmp_path / "clip")
    config = tiny_config(num_hidden_layers=2)  # like Sim-B/16*: keep the first blocks only
    model = simtrack_from_clip_vision(str(tmp_path / "clip"), config)
    clip_sd = clip.state_dict()
    ours = model.state_dict()
    for key in ("embeddings.patch_embedding.weight", "embeddings.class_embedding", "pre_layrnorm.weight",
                "post_layernorm.bias", "encoder.layers.1.self_attn.q_proj.weight", "encoder.layers.1.mlp.fc2.bias"):
        assert torch.equal(ours[key], clip_sd[key]), key
    assert torch.equal(ours["embeddings.position_embedding.weight"], clip_sd["embeddings.position_embedding.weight"])
    # The CLIP encoder layers are reused unchanged, so the backbone matches CLIP's own computation.
    x = torch.randn(1, 5, 32)
    with torch.no_grad():
        assert torch.allclose(model.encoder.layers[0](x, None), clip.encoder.layers[0](x, None))


def test_clip_initialisation_resizes_position_grid():
    clip = tiny_clip(image_size=336)  # 21x21 grid -> the config's 14x14 pretrained grid
    model = simtrack_from_clip_vision(clip, tiny_config())
    table = model.embeddings.position_embedding.weight
    assert table.shape == (14 * 14 + 1, 32)
    assert torch.equal(table[0], clip.embeddings.position_embedding.weight[0])


def test_clip_initialisation_rejects_other_width():
    with pytest.raises(ValueError, match="hidden_size"):
        simtrack_from_clip_vision(tiny_clip(), tiny_config(hidden_size=64))
    with pytest.raises(ValueError, match="layers"):
        simtrack_from_clip_vision(tiny_clip(layers=1), tiny_config())


@pytest.mark.parametrize("variant", ["sim-b32", "sim-b16", "sim-b16star", "sim-l14"])
def test_clip_init_every_variant_on_meta(variant):
    """Each variant's backbone takes the matching CLIP ViT's weights (shapes only, meta device)."""
    config = SimTrackConfig.from_variant(variant)
    clip_layers = 24 if variant == "sim-l14" else 12
    clip_config = CLIPVisionConfig(
        hidden_size=config.hidden_size, intermediate_size=config.intermediate_size,
        num_hidden_layers=clip_layers, num_attention_heads=config.num_attention_heads, patch_size=config.patch_size,
    )
    with torch.device("meta"):
        clip = CLIPVisionModel(clip_config)
        model = simtrack_from_clip_vision(clip, config)
    assert len(model.encoder.layers) == config.num_hidden_layers
