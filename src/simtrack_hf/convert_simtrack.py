"""Original SimTrack checkpoints and CLIP vision weights -> SimTrackModel state dicts.

The key mapping of an original checkpoint (`.pth` / `.pth.tar` / `.safetensors`, below) and the paper's
initialisation from a transformers CLIP vision model (backbone only). Loading a model from any source, configs
from strings and the parity check of a saved model live in `simtrack_hf.loading`.
"""

from __future__ import annotations

import os
import re
from typing import Mapping

import torch

from .configuration_simtrack import SimTrackConfig
from .modeling_simtrack import SimTrackModel, resize_patch_positions

# Original (STARK-pipeline, OpenAI-CLIP) names -> ours. `{i}` is a block index; in_proj is split separately.
_ORIGINAL_RENAMES = [
    (r"^backbone\.visual\.class_embedding$", "embeddings.class_embedding"),
    (r"^backbone\.visual\.positional_embedding$", "embeddings.position_embedding.weight"),
    (r"^backbone\.visual\.conv1\.weight$", "embeddings.patch_embedding.weight"),
    (r"^backbone\.pos_fc\.(\d)\.(weight|bias)$", r"embeddings.pos_fc.\1.\2"),
    (r"^backbone\.visual\.ln_pre\.", "pre_layrnorm."),
    (r"^backbone\.visual\.ln_post\.", "post_layernorm."),
    (r"^backbone\.visual\.transformer\.resblocks\.(\d+)\.attn\.out_proj\.", r"encoder.layers.\1.self_attn.out_proj."),
    (r"^backbone\.visual\.transformer\.resblocks\.(\d+)\.ln_1\.", r"encoder.layers.\1.layer_norm1."),
    (r"^backbone\.visual\.transformer\.resblocks\.(\d+)\.ln_2\.", r"encoder.layers.\1.layer_norm2."),
    (r"^backbone\.visual\.transformer\.resblocks\.(\d+)\.mlp\.c_fc\.", r"encoder.layers.\1.mlp.fc1."),
    (r"^backbone\.visual\.transformer\.resblocks\.(\d+)\.mlp\.c_proj\.", r"encoder.layers.\1.mlp.fc2."),
    (r"^(bottleneck|box_head)\.", r"\1."),
]
_IN_PROJ = re.compile(r"^backbone\.visual\.transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)$")
_UNUSED = {"backbone.visual.proj"}


def expected_state_dict_shapes(config: SimTrackConfig) -> dict[str, torch.Size]:
    """Names and shapes of a SimTrackModel state dict for `config`, built on the meta device (no memory)."""
    with torch.device("meta"):
        model = SimTrackModel(config)
    return {name: tensor.shape for name, tensor in model.state_dict().items()}


def check_state_dict(state_dict: Mapping[str, torch.Tensor], config: SimTrackConfig, source: str) -> None:
    """Raise `ValueError` listing missing / unexpected keys and shape mismatches against `config`."""
    expected = expected_state_dict_shapes(config)
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(expected[k])}"
        for k in sorted(set(expected) & set(state_dict))
        if tuple(state_dict[k].shape) != tuple(expected[k])
    ]
    if missing or unexpected or mismatched:
        lines = [f"{source} does not fit this SimTrackConfig (wrong variant or checkpoint?):"]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
            if items:
                lines.append(f"  {title} ({len(items)}): " + ", ".join(items[:12]) + (" ..." if len(items) > 12 else ""))
        raise ValueError("\n".join(lines))


def convert_original_state_dict(original_state_dict: Mapping, config: SimTrackConfig) -> dict[str, torch.Tensor]:
    """Map an original SimTrack checkpoint (raw state dict or `{'net': ...}`, optional `module.` prefix) to ours.

    The packed attention `in_proj_{weight,bias}` (3C, C) is split into q / k / v (in that order); the unused CLIP
    `proj` is dropped. Raises `ValueError` naming unknown keys, missing keys and shape mismatches.
    """
    if "net" in original_state_dict and isinstance(original_state_dict["net"], Mapping):
        original_state_dict = original_state_dict["net"]
    converted: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in original_state_dict.items():
        key = key[len("module.") :] if key.startswith("module.") else key
        if key in _UNUSED:
            continue
        match = _IN_PROJ.match(key)
        if match:
            layer, kind = match.groups()
            for name, part in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0)):
                converted[f"encoder.layers.{layer}.self_attn.{name}.{kind}"] = part.clone()
            continue
        for pattern, replacement in _ORIGINAL_RENAMES:
            if re.match(pattern, key):
                converted[re.sub(pattern, replacement, key)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"unexpected keys in the original checkpoint ({len(unknown)}): {unknown[:12]}")
    check_state_dict(converted, config, "original checkpoint")
    return converted


def load_original_checkpoint(path: str | os.PathLike) -> Mapping[str, torch.Tensor]:
    """Read an original `.pth` / `.pth.tar` safely (`weights_only=True`) or a `.safetensors` file; `ValueError`
    naming the file when it is not a checkpoint of tensors (text, truncated, or holding arbitrary objects)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        if str(path).endswith(".safetensors"):
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any parse failure: the file is not a checkpoint of tensors
        raise ValueError(
            f"{path} is not a readable checkpoint of tensors (not a checkpoint, truncated, or holding objects other "
            f"than tensors; {type(error).__name__})"
        ) from None


def convert_clip_vision_state_dict(clip_state_dict: Mapping[str, torch.Tensor], config: SimTrackConfig) -> dict:
    """transformers `CLIPVisionModel` weights -> the backbone part of a SimTrackModel state dict.

    Keeps the first `config.num_hidden_layers` blocks (Sim-B/16* drops the last 4 of ViT-B/16) and resizes the
    position grid bilinearly to `pretrained_image_size / patch_size` when the CLIP grid differs.
    """
    out = {}
    for key, value in clip_state_dict.items():
        key = key.removeprefix("vision_model.")
        if key.startswith("embeddings.position_ids") or key.startswith("visual_projection"):
            continue
        layer = re.match(r"encoder\.layers\.(\d+)\.", key)
        if layer and int(layer.group(1)) >= config.num_hidden_layers:
            continue
        if key == "embeddings.position_embedding.weight":
            grid = config.pretrained_image_size // config.patch_size
            value = torch.cat((value[:1], resize_patch_positions(value[1:], grid)))
        out[key] = value
    return out


def simtrack_from_clip_vision(clip_model, config: SimTrackConfig):
    """A SimTrackModel whose backbone is initialised from a `CLIPVisionModel` (object or local folder/repo id).

    The paper's initialisation: CLIP vision weights for the backbone, fresh `pos_fc`, bottleneck and corner head
    (PyTorch's default initialisation, as the original, unless `config.new_layer_init` says "normal").
    Raises `ValueError` when the CLIP width, patch size or depth do not fit `config`.
    """
    from transformers import CLIPVisionModel
    if not isinstance(clip_model, torch.nn.Module):
        clip_model = CLIPVisionModel.from_pretrained(clip_model)
    clip_config = getattr(clip_model.config, "vision_config", clip_model.config)
    for field in ("hidden_size", "patch_size", "num_attention_heads", "intermediate_size"):
        if getattr(clip_config, field) != getattr(config, field):
            raise ValueError(f"CLIP {field}={getattr(clip_config, field)} does not match SimTrackConfig {getattr(config, field)}")
    if clip_config.num_hidden_layers < config.num_hidden_layers:
        raise ValueError(f"CLIP has {clip_config.num_hidden_layers} layers, the config needs {config.num_hidden_layers}")
    backbone = convert_clip_vision_state_dict(clip_model.state_dict(), config)
    model = SimTrackModel(config)
    result = model.load_state_dict(backbone, strict=False)
    if result.unexpected_keys:
        raise ValueError(f"unexpected CLIP keys: {result.unexpected_keys[:12]}")
    not_backbone = [k for k in result.missing_keys if not k.startswith(("embeddings.pos_fc", "bottleneck", "box_head"))]
    if not_backbone:
        raise ValueError(f"CLIP weights lack backbone keys: {not_backbone[:12]}")
    return model


__all__ = [
    "check_state_dict",
    "convert_clip_vision_state_dict",
    "convert_original_state_dict",
    "load_original_checkpoint",
    "simtrack_from_clip_vision",
]
