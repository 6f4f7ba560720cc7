"""The checks of transformers' ModelTesterMixin that apply to SimTrackModel, on a tiny config: save/load,
initialization, main input name, input embeddings, hidden states, attentions, batching equivalence, eager vs SDPA,
gradient checkpointing, offloading (device_map="auto" with disk offload), torch.compile, base_model_prefix, and
inputs cast to the weights' dtype."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch
from conftest import tiny_config, tiny_inputs
from torch import nn

from simtrack_hf import SimTrackImageProcessor, SimTrackModel

LABELS = torch.tensor([[0.5, 0.5, 0.3, 0.3], [0.4, 0.6, 0.2, 0.5]])


def make_model(seed: int = 0, **overrides) -> SimTrackModel:
    torch.manual_seed(seed)
    return SimTrackModel(tiny_config(**overrides)).eval()


def enable_checkpointing(model: SimTrackModel) -> None:
    """Activation checkpointing under its current name, or the older `gradient_checkpointing_enable` (before
    transformers renamed it; both versions are tested)."""
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    model = make_model()
    model.save_pretrained(folder)
    SimTrackImageProcessor.from_model_config(model.config).save_pretrained(folder)
    return folder, model


def test_save_load(saved):
    folder, model = saved
    assert (folder / "model.safetensors").exists() and not (folder / "pytorch_model.bin").exists()
    assert json.loads((folder / "config.json").read_text())["model_type"] == "simtrack"
    loaded, info = SimTrackModel.from_pretrained(folder, output_loading_info=True)
    assert all(not keys for keys in (info["missing_keys"], info["unexpected_keys"], info["mismatched_keys"]))
    inputs = tiny_inputs(model.config)
    with torch.no_grad():
        assert torch.equal(model(**inputs).pred_boxes, loaded.eval()(**inputs).pred_boxes)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name


def test_initialization():
    """With every init scale near zero (as the mixin's `_config_zero_init`), a preset's parameters are ~0 or 1
    (norm weights): every init, the class embedding's included, follows `initializer_range`."""
    model = SimTrackModel(tiny_config(initializer_range=1e-10, new_layer_init="normal"))
    for name, param in model.named_parameters():
        mean = ((param.data.mean() * 1e9).round() / 1e9).item()
        assert mean in (0.0, 1.0), f"{name} starts with mean {mean}"
    variant = SimTrackModel(tiny_config(initializer_range=1e-10))  # published variants: CLIP's std, as converted
    assert variant.embeddings.class_embedding.std() > 0.05


def test_main_input_name_is_the_first_argument_and_keywords_work():
    model = make_model()
    first = next(iter(inspect.signature(model.forward).parameters))
    assert first == model.main_input_name == "search_pixel_values"
    inputs = tiny_inputs(model.config)
    with torch.no_grad():
        by_keyword = model(**inputs).pred_boxes
        positional = model(inputs["search_pixel_values"], inputs["template_pixel_values"],
                           inputs["template_boxes"]).pred_boxes
    assert torch.equal(by_keyword, positional)


def test_input_embeddings():
    model = make_model()
    embeddings = model.get_input_embeddings()
    assert embeddings is model.embeddings.patch_embedding and isinstance(embeddings, nn.Conv2d)
    assert model.get_output_embeddings() is None


def test_hidden_states():
    model = make_model()
    config = model.config
    with torch.no_grad():
        out = model(**tiny_inputs(config), output_hidden_states=True)
    tokens = config.template_grid**2 + 1 + config.search_grid**2 + config.foveal_grid**2
    assert len(out.hidden_states) == config.num_hidden_layers + 1
    assert all(h.shape == (2, tokens, config.hidden_size) for h in out.hidden_states)
    last = model.post_layernorm(out.hidden_states[-1])[:, : -config.foveal_grid**2]
    torch.testing.assert_close(last, out.last_hidden_state)


def test_attentions_eager_only():
    model = make_model()
    model.set_attn_implementation("eager")
    inputs = tiny_inputs(model.config)
    with torch.no_grad():
        out = model(**inputs, output_attentions=True)
    c = model.config
    length = c.template_grid**2 + 1 + c.search_grid**2 + c.foveal_grid**2
    assert len(out.attentions) == model.config.num_hidden_layers
    assert out.attentions[0].shape == (2, model.config.num_attention_heads, length, length)
    assert torch.allclose(out.attentions[0].sum(-1), torch.ones(()))
    model.set_attn_implementation("sdpa")
    with pytest.raises(ValueError, match="eager"):
        model(**inputs, output_attentions=True)


def test_batching_equivalence():
    model = make_model()
    inputs = tiny_inputs(model.config, batch=3)
    with torch.no_grad():
        batched = model(**inputs).pred_boxes
        single = torch.cat([model(**{k: v[i : i + 1] for k, v in inputs.items()}).pred_boxes for i in range(3)])
    assert torch.allclose(batched, single, atol=1e-6)


def test_eager_equals_sdpa():
    model = make_model()
    inputs = tiny_inputs(model.config, batch=3)
    with torch.no_grad():
        model.set_attn_implementation("eager")
        eager = model(**inputs)
        model.set_attn_implementation("sdpa")
        sdpa = model(**inputs)
    assert torch.allclose(eager.pred_boxes, sdpa.pred_boxes, atol=1e-5)
    assert torch.allclose(eager.last_hidden_state, sdpa.last_hidden_state, atol=1e-4)


def test_gradient_checkpointing():
    inputs = tiny_inputs(tiny_config(), batch=2)
    grads = []
    for checkpointing in (False, True):
        model = make_model().train()
        if checkpointing:
            enable_checkpointing(model)
        model(**inputs, labels=LABELS).loss.backward()
        grads.append(model.encoder.layers[0].mlp.fc1.weight.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_disk_offload(saved, tmp_path):
    """device_map="auto" with a memory budget that sends most weights to disk: the same boxes (every weight is
    read inside a module call, so accelerate's hooks load it; the template path goes through them too)."""
    pytest.importorskip("accelerate")
    folder, model = saved
    offloaded = SimTrackModel.from_pretrained(folder, device_map="auto", max_memory={"cpu": "60KB"},
                                              offload_folder=str(tmp_path / "offload")).eval()
    assert "disk" in set(offloaded.hf_device_map.values())
    inputs = tiny_inputs(model.config)
    with torch.no_grad():
        torch.testing.assert_close(offloaded(**inputs).pred_boxes, model(**inputs).pred_boxes)
        cached = offloaded.embed_template(inputs["template_pixel_values"], inputs["template_boxes"])
        again = offloaded(search_pixel_values=inputs["search_pixel_values"], template_embeddings=cached)
    torch.testing.assert_close(again.pred_boxes, model(**inputs).pred_boxes)


def test_torch_compile_fullgraph():
    model = make_model()
    inputs = tiny_inputs(model.config)
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(**inputs).pred_boxes, model(**inputs).pred_boxes)


def test_base_model_prefix_follows_the_convention(saved, tmp_path):
    """As ViTModel's "vit": the prefix a task model would keep SimTrackModel under. SimTrackModel is its own base
    model, and a checkpoint saved under that prefix loads into it."""
    from safetensors.torch import load_file, save_file

    folder, model = saved
    assert model.base_model is model and model.base_model_prefix == "simtrack"
    prefixed = tmp_path / "prefixed"
    prefixed.mkdir()
    (prefixed / "config.json").write_text((folder / "config.json").read_text())
    weights = load_file(folder / "model.safetensors")
    save_file({f"simtrack.{k}": v for k, v in weights.items()}, prefixed / "model.safetensors",
              metadata={"format": "pt"})
    loaded, info = SimTrackModel.from_pretrained(prefixed, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())


def test_low_precision_weights_take_float32_processor_outputs(saved):
    """from_pretrained(..., dtype=torch.bfloat16) then model(**processor(...)): inputs are cast as in ViT / CLIP."""
    folder, model = saved
    bf16 = SimTrackModel.from_pretrained(folder, dtype=torch.bfloat16).eval()
    processor = SimTrackImageProcessor.from_pretrained(folder)
    rng = np.random.default_rng(0)
    first, second = (rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(2))
    box = [30.0, 20.0, 40.0, 30.0]
    inputs = {**processor(first, box, crop="template"), **processor(second, box, crop="search")}
    assert inputs["search_pixel_values"].dtype == torch.float32
    with torch.no_grad():
        out = bf16(**inputs)
        reference = model(**inputs)
    assert out.pred_boxes.dtype == torch.float32  # the soft-argmax stays float32
    torch.testing.assert_close(out.pred_boxes, reference.pred_boxes, atol=0.05, rtol=0)
