"""Every weight source -> SimTrackModel, strings -> SimTrackConfig, and the one parity check of a saved model.

Sources: a SimTrack `save_pretrained` folder or Hub repo (loaded strictly: a checkpoint that does not fill the model
raises), an original SimTrack checkpoint or a transformers CLIP vision model (converted by
`simtrack_hf.convert_simtrack`). `load_config` turns a preset / variant name, config.json, model folder or inline
JSON into a `SimTrackConfig`; `load_model` picks the source by what the path holds; `parity_check` reloads a saved
folder and compares boxes on a fixed seeded input. `DEFAULT_MODEL` is the model shipped in the package.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal, Mapping

import torch

from .configuration_simtrack import SimTrackConfig
from .convert_simtrack import convert_original_state_dict, load_original_checkpoint, simtrack_from_clip_vision
from .modeling_simtrack import SimTrackModel

DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_model")
"""The model shipped in the package (`simtrack_hf/demo_model`), the default of every command's `--model`."""
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
    try:  # weights read into memory (not memory-mapped): a file changed or truncated later cannot touch the model
        model, info = SimTrackModel.from_pretrained(
            path_or_repo, output_loading_info=True, ignore_mismatched_sizes=True, disable_mmap=True, **kwargs
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
    _check_weight_files(model, text)
    return model


def _safetensors_dtypes(file: str | os.PathLike) -> dict[str, str]:
    """Tensor name -> safetensors dtype ("F32", "I32", ...) from a file's header (no tensor is read)."""
    with open(file, "rb") as handle:
        header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
    return {name: entry["dtype"] for name, entry in header.items() if name != "__metadata__"}


def _check_weight_files(model: SimTrackModel, path_or_repo: str) -> None:
    """`_check_dtype_kinds` for the safetensors files of a folder or cached Hub repo (read from their headers)."""
    if os.path.isdir(path_or_repo):
        files = sorted(Path(path_or_repo).glob("*.safetensors"))
    else:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(path_or_repo, "model.safetensors")
        files = [cached] if isinstance(cached, str) else []
    for file in files:
        _check_dtype_kinds(model, _safetensors_dtypes(file), str(file))


def _check_dtype_kinds(model: SimTrackModel, dtypes: Mapping[str, str | torch.dtype], source: str) -> None:
    """Raise `ValueError` when a stored tensor (name -> safetensors dtype such as "I32", or torch dtype) is integer
    where the model's is floating point, or the reverse: such weights load by a silent cast and track garbage."""
    state = model.state_dict()

    def floating(dtype: str | torch.dtype) -> bool:
        return dtype.is_floating_point if isinstance(dtype, torch.dtype) else dtype.startswith(("F", "BF"))

    wrong = sorted(k for k, dtype in dtypes.items() if k in state and state[k].is_floating_point() != floating(dtype))
    if wrong:
        raise ValueError(
            f"{source} holds {dtypes[wrong[0]]} tensors where the model has {state[wrong[0]].dtype} ones ("
            f"{len(wrong)} of {len(dtypes)}, e.g. {wrong[0]}): not SimTrack weights (a cast would track garbage)"
        )


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
    state = convert_original_state_dict(load_original_checkpoint(path), config)
    _check_dtype_kinds(model, {k: v.dtype for k, v in state.items()}, str(path))
    model.load_state_dict(state, strict=True)
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
    "DEFAULT_MODEL",
    "WeightsKind",
    "load_config",
    "load_model",
    "load_pretrained",
    "parity_check",
    "seeded_inputs",
    "weights_kind",
]
