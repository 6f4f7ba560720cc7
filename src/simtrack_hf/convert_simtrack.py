"""Every weight source -> SimTrackModel, and the one parity check of a saved model.

Sources: an original SimTrack checkpoint (`.pth` / `.pth.tar` / `.safetensors`, key mapping below), a SimTrack
`save_pretrained` folder or Hub repo (loaded strictly: a checkpoint that does not fill the model raises), or a
transformers CLIP vision model (backbone only, the paper's initialisation). `load_config` turns a preset / variant
name, config.json, model folder or inline JSON into a `SimTrackConfig`; `load_model` picks the source by what the
path holds; `parity_check` reloads a saved folder and compares boxes on a fixed seeded input.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal, Mapping

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

    The paper's initialisation: CLIP vision weights for the backbone, fresh `pos_fc`, bottleneck and corner head.
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


WeightsKind = Literal["original", "folder", "clip"]
_CONFIG_FILE_KEYS = ("model_type", "architectures", "transformers_version")


def _config_values(spec: str | os.PathLike) -> dict[str, Any]:
    """Config fields from inline JSON (text starting with "{"), a config.json file or a folder holding one."""
    text = str(spec).strip()
    if text.startswith("{"):
        data = json.loads(text)
    else:
        path = Path(spec)
        data = json.loads((path / "config.json" if path.is_dir() else path).read_text())
    return {k: v for k, v in data.items() if k not in _CONFIG_FILE_KEYS}


def load_config(variant: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
                **overrides: Any) -> SimTrackConfig:
    """A SimTrackConfig from `variant` (a preset such as "tiny", a published variant such as "sim-b16", a
    config.json path or a model folder), with `config` (a config.json path or inline JSON) applied on top, then
    `overrides`. Without `variant` the fields start from the `SimTrackConfig` defaults (Sim-B/16)."""
    values = {**(_config_values(config) if config else {}), **overrides}
    if variant is not None and os.path.exists(variant):
        return SimTrackConfig(**{**_config_values(variant), **values})
    return SimTrackConfig.from_variant(str(variant), **values) if variant is not None else SimTrackConfig(**values)


def weights_kind(path: str | os.PathLike) -> WeightsKind:
    """"original" for a checkpoint file, "folder" for a SimTrack save_pretrained folder, "clip" for a folder with a
    CLIP (vision) config; `ValueError` otherwise."""
    path = Path(path)
    if path.is_file():
        return "original"
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ValueError(f"{str(path)!r}: neither a checkpoint file nor a folder with config.json")
    model_type = json.loads(config_file.read_text()).get("model_type", "")
    if model_type == "simtrack":
        return "folder"
    if model_type.startswith("clip"):
        return "clip"
    raise ValueError(f"{str(path)!r}: unsupported model_type {model_type!r} (simtrack or clip)")


def _is_hub_id(text: str) -> bool:
    """Whether `text` reads as a Hub repo id ("name" or "org/name") rather than a local path."""
    return re.fullmatch(r"[\w.-]+(/[\w.-]+)?", text) is not None and not text.startswith(".")


def load_pretrained(path_or_repo: str | os.PathLike, ignore_mismatched_sizes: bool = False,
                    **kwargs: Any) -> SimTrackModel:
    """`SimTrackModel.from_pretrained` that refuses a checkpoint that does not fill the model exactly: missing or
    unexpected keys (another variant: a deeper checkpoint in a shallower config) raise `ValueError`, and so do
    shape mismatches unless `ignore_mismatched_sizes=True` (which, as in transformers, re-initialises them).

    A missing local folder, a folder without config.json, an unreadable weights file and an unreachable Hub repo
    each raise one clear `ValueError` / `OSError` naming the path.
    """
    from safetensors import SafetensorError

    text = os.fspath(path_or_repo)
    if os.path.isdir(text):
        if not os.path.isfile(os.path.join(text, "config.json")):
            raise ValueError(f"{text} has no config.json: not a save_pretrained folder (an original checkpoint is "
                             "converted with `simtrack convert`)")
    elif not _is_hub_id(text):
        raise FileNotFoundError(f"model folder not found: {text}")
    try:
        model, info = SimTrackModel.from_pretrained(
            path_or_repo, output_loading_info=True, ignore_mismatched_sizes=True, **kwargs
        )
    except SafetensorError as error:
        weights = os.path.join(text, "model.safetensors")
        raise ValueError(f"{weights if os.path.isfile(weights) else text} is not readable safetensors (truncated "
                         f"or corrupt: {error})") from error
    except OSError as error:
        if os.path.isdir(text):
            raise
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OSError(f"could not load {text!r} from the Hugging Face Hub: {first_line}") from error
    kinds = ("missing_keys", "unexpected_keys") + (() if ignore_mismatched_sizes else ("mismatched_keys",))
    problems = {k: info.get(k) for k in kinds if info.get(k)}
    if problems:
        details = "; ".join(f"{k} ({len(v)}): {sorted(map(str, v))[:8]}" for k, v in problems.items())
        raise ValueError(f"{text}: checkpoint does not match its SimTrackConfig (wrong variant?): {details}")
    return model


def load_model(path: str | os.PathLike, config: SimTrackConfig | None = None,
               kind: WeightsKind | None = None) -> SimTrackModel:
    """SimTrackModel from an original checkpoint, a SimTrack folder / Hub repo or a CLIP vision model.

    `kind` (default: `weights_kind(path)`) names the source; `config` is needed for "original" and "clip" (a
    SimTrack folder brings its own).
    """
    kind = kind or weights_kind(path)
    if kind == "folder":
        return load_pretrained(path)
    if config is None:
        raise ValueError(f"loading {kind!r} weights needs a SimTrackConfig")
    if kind == "clip":
        return simtrack_from_clip_vision(str(path), config)
    model = SimTrackModel(config)
    model.load_state_dict(convert_original_state_dict(load_original_checkpoint(path), config), strict=True)
    return model


def seeded_inputs(config: SimTrackConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """Two targets' fixed random crops and template boxes: the input of `parity_check`."""
    generator = torch.Generator().manual_seed(seed)
    t, s = config.template_size, config.search_size
    return {
        "template_pixel_values": torch.randn(2, 3, t, t, generator=generator),
        "search_pixel_values": torch.randn(2, 3, s, s, generator=generator),
        "template_boxes": torch.tensor([[0.25, 0.25, 0.5, 0.5], [0.3, 0.2, 0.4, 0.6]]),
    }


def parity_check(model: SimTrackModel, folder: str | os.PathLike, atol: float = 1e-6) -> float:
    """Reload `folder` and compare its boxes with `model` on `seeded_inputs`; returns the max difference and
    raises `RuntimeError` above `atol`."""
    reloaded = load_pretrained(folder).eval()
    inputs = seeded_inputs(model.config)
    with torch.inference_mode():
        diff = (model.eval()(**inputs).pred_boxes - reloaded(**inputs).pred_boxes).abs().max().item()
    if not diff <= atol:
        raise RuntimeError(f"{folder} does not reproduce the model's boxes (max difference {diff:.2e})")
    return diff


__all__ = [
    "check_state_dict",
    "convert_clip_vision_state_dict",
    "convert_original_state_dict",
    "load_config",
    "load_model",
    "load_original_checkpoint",
    "load_pretrained",
    "parity_check",
    "seeded_inputs",
    "simtrack_from_clip_vision",
    "weights_kind",
]
