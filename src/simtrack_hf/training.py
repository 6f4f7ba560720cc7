"""Training SimTrack with the 🤗 Trainer: the reference recipe (reference_spec.md §5.3-5.4) and helpers.

* :class:`SimTrackTrainingArguments`: `TrainingArguments` with the recipe's defaults (lr 1e-4, weight decay 1e-4,
  grad clip 0.1, no column removal, no token averaging, no unused-parameter search) plus
  ``backbone_lr_multiplier`` (0.1) and the step decay (x ``lr_drop_factor`` at ``lr_drop_fraction`` of training).
* :class:`SimTrackTrainer`: AdamW with three parameter groups (head + bottleneck at lr, ``pos_fc`` at lr, rest of
  the backbone at lr x multiplier; weight decay on every parameter), the step schedule, and ``l1_loss``,
  ``giou_loss``, ``mean_iou`` in the training logs (averaged over the logging interval and all ranks), plus
  ``data_epoch`` (epochs of pairs seen) when the dataset has ``samples_per_epoch``.
* :func:`plan_training`: converts epochs / max_steps into one pass over a :class:`TrackingPairDataset` of virtual
  length ``samples_per_epoch * num_epochs`` (so pairs never repeat across epochs and no epoch counter has to
  reach DataLoader workers).
* :func:`build_config`, :func:`init_model`, :func:`ensure_synthetic_got10k`: used by ``scripts/train.py`` and
  ``scripts/make_demo_model.py``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from transformers import Trainer, TrainingArguments

from .configuration_simtrack import SimTrackConfig
from .modeling_simtrack import SimTrackModel, simtrack_loss

__all__ = [
    "CONFIG_PRESETS",
    "SimTrackTrainer",
    "SimTrackTrainingArguments",
    "StepDecay",
    "build_config",
    "ensure_photo_got10k",
    "ensure_synthetic_got10k",
    "last_complete_checkpoint",
    "init_model",
    "plan_training",
    "simtrack_param_groups",
]

# Small from-scratch configurations (not published variants): "tiny" for tests, "small" (the first demo model),
# "compact" (the shipped default model: trained on real photographs, see scripts/make_demo_model.py).
CONFIG_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, patch_size=16,
        pretrained_image_size=128, template_size=64, search_size=128, foveal_size=32, head_hidden_size=16,
        head_channels=16, pos_embed_hidden_size=16,
    ),
    "small": dict(
        hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512, patch_size=16,
        pretrained_image_size=128, template_size=64, search_size=128, foveal_size=32, head_hidden_size=64,
        head_channels=64, pos_embed_hidden_size=64,
    ),
    "compact": dict(
        hidden_size=192, num_hidden_layers=6, num_attention_heads=3, intermediate_size=768, patch_size=16,
        pretrained_image_size=128, template_size=64, search_size=128, foveal_size=32, head_hidden_size=96,
        head_channels=96, pos_embed_hidden_size=96,
    ),
}


@dataclass
class SimTrackTrainingArguments(TrainingArguments):
    """`TrainingArguments` with SimTrack's recipe as defaults, plus the backbone multiplier and the step decay."""

    learning_rate: float = field(default=1e-4, metadata={"help": "Learning rate of the head, bottleneck and pos_fc."})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay (on every parameter)."})
    max_grad_norm: float = field(default=0.1, metadata={"help": "Gradient clipping norm (0.1 in the reference)."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep every collated key (pairs are tensors)."}
    )
    average_tokens_across_devices: bool = field(
        default=False, metadata={"help": "Must stay False: the box loss is a per-sample mean."}
    )
    ddp_find_unused_parameters: bool | None = field(
        default=False, metadata={"help": "SimTrackModel uses every parameter in each forward."}
    )
    backbone_lr_multiplier: float = field(
        default=0.1, metadata={"help": "Backbone (except pos_fc) learning rate = learning_rate x this."}
    )
    lr_drop_fraction: float = field(
        default=0.8, metadata={"help": "Step decay at this fraction of the training steps (epoch 40 of 50)."}
    )
    lr_drop_factor: float = field(default=0.1, metadata={"help": "Learning rate multiplier after the drop."})


def simtrack_param_groups(
    model: nn.Module, learning_rate: float, backbone_lr_multiplier: float = 0.1, weight_decay: float = 1e-4
) -> list[dict[str, Any]]:
    """AdamW groups of the reference: ``head`` (bottleneck + box_head) and ``pos_fc`` at ``learning_rate``,
    ``backbone`` (everything else) at ``learning_rate * backbone_lr_multiplier``; weight decay on all."""
    groups: dict[str, list[nn.Parameter]] = {"head": [], "pos_fc": [], "backbone": []}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        name = name.removeprefix("module.")
        if name.startswith(("bottleneck.", "box_head.")):
            groups["head"].append(param)
        elif name.startswith("embeddings.pos_fc."):
            groups["pos_fc"].append(param)
        else:
            groups["backbone"].append(param)
    lrs = {"head": learning_rate, "pos_fc": learning_rate, "backbone": learning_rate * backbone_lr_multiplier}
    return [
        {"params": params, "lr": lrs[key], "weight_decay": weight_decay, "name": key}
        for key, params in groups.items()
        if params
    ]


class StepDecay:
    """LambdaLR factor: linear warm-up over ``warmup_steps`` (0 in the reference), then 1, then ``factor`` from
    step ``drop_step`` on (a picklable object, so the scheduler state saves with checkpoints)."""

    def __init__(self, drop_step: int, factor: float = 0.1, warmup_steps: int = 0) -> None:
        self.drop_step, self.factor, self.warmup_steps = int(drop_step), float(factor), int(warmup_steps)

    def __call__(self, step: int) -> float:
        scale = self.factor if step >= self.drop_step else 1.0
        if step < self.warmup_steps:
            scale *= (step + 1) / self.warmup_steps
        return scale


class SimTrackTrainer(Trainer):
    """`Trainer` with SimTrack's optimiser, step schedule and box metrics in the logs.

    Use with :class:`SimTrackTrainingArguments` (plain `TrainingArguments` work too: the multiplier and drop
    default to 0.1 / 0.8 / 0.1) and pass the image processor as ``processing_class`` so every checkpoint holds it.
    """

    _metric_names = ("l1_loss", "giou_loss", "mean_iou")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metric_sums = torch.zeros(len(self._metric_names) + 1, dtype=torch.float64)

    def _arg(self, name: str, default: float) -> float:
        return float(getattr(self.args, name, default))

    def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        if self.optimizer is None:
            groups = simtrack_param_groups(
                self.model if model is None else model, self.args.learning_rate,
                self._arg("backbone_lr_multiplier", 0.1), self.args.weight_decay,
            )
            self.optimizer = torch.optim.AdamW(
                groups, lr=self.args.learning_rate, betas=(self.args.adam_beta1, self.args.adam_beta2),
                eps=self.args.adam_epsilon, weight_decay=self.args.weight_decay,
            )
        return self.optimizer

    def create_scheduler(
        self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None
    ) -> torch.optim.lr_scheduler.LRScheduler:
        if self.lr_scheduler is None:
            drop_step = int(round(self._arg("lr_drop_fraction", 0.8) * num_training_steps))
            warmup = self.args.get_warmup_steps(num_training_steps)
            schedule = StepDecay(drop_step, self._arg("lr_drop_factor", 0.1), warmup)
            self.lr_scheduler = LambdaLR(optimizer or self.optimizer, schedule)
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def compute_loss(
        self, model: nn.Module, inputs: dict[str, torch.Tensor], return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        outputs = model(**inputs)
        if model.training and "labels" in inputs:
            config = self.accelerator.unwrap_model(model).config
            stats = simtrack_loss(outputs.pred_boxes.detach(), inputs["labels"], config)
            values = [stats[name].item() for name in self._metric_names]
            self._metric_sums += torch.tensor([*values, 1.0], dtype=torch.float64)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log: reached by every rank together, so the reduction is safe
            sums = self._metric_sums.to(self.args.device)
            if self.args.world_size > 1:
                sums = self.accelerator.reduce(sums, reduction="sum")
            if sums[-1] > 0:
                logs.update({name: round(float(v / sums[-1]), 6) for name, v in zip(self._metric_names, sums[:-1])})
            self._metric_sums.zero_()
            per_epoch = getattr(self.train_dataset, "samples_per_epoch", None)
            if per_epoch:  # epochs of pairs (the Trainer's own epoch counts passes over the virtual length)
                args = self.args
                per_step = args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps
                logs["data_epoch"] = round(self.state.global_step * per_step / per_epoch, 4)
        super().log(logs, start_time)


def plan_training(args: TrainingArguments, samples_per_epoch: int) -> tuple[int, int]:
    """(max_steps, num_epochs) for ONE Trainer pass over a pair dataset of length ``samples_per_epoch * num_epochs``.

    With ``args.max_steps > 0`` the dataset gets enough epochs for those steps; otherwise
    ``args.num_train_epochs`` epochs of pairs are turned into steps. Sets ``args.max_steps`` accordingly.
    """
    per_step = args.per_device_train_batch_size * max(args.world_size, 1) * args.gradient_accumulation_steps
    if args.max_steps > 0:
        max_steps = int(args.max_steps)
    else:
        max_steps = max(1, math.ceil(args.num_train_epochs * samples_per_epoch / per_step))
    num_epochs = max(1, math.ceil(max_steps * per_step / samples_per_epoch))
    args.max_steps = max_steps
    return max_steps, num_epochs


def build_config(variant: str | None = None, config: str | None = None, **overrides: Any) -> SimTrackConfig:
    """A SimTrackConfig from a preset ("tiny", "small"), a published variant ("sim-b16", ...), a config.json path
    or an inline JSON object (``config`` is applied on top of ``variant``), then ``overrides``."""
    values: dict[str, Any] = {}
    if config:
        text = config.strip()
        data = json.loads(text) if text.startswith("{") else json.loads(Path(config).read_text())
        skip = ("model_type", "architectures", "transformers_version")
        values.update({k: v for k, v in data.items() if k not in skip})
    values.update(overrides)
    key = (variant or "").lower()
    if key in CONFIG_PRESETS:
        return SimTrackConfig(**{**CONFIG_PRESETS[key], **values})
    return SimTrackConfig.from_variant(variant, **values) if variant else SimTrackConfig(**values)


def init_model(init_from: str | os.PathLike | None, config: SimTrackConfig) -> SimTrackModel:
    """Model for ``config``, initialised from ``init_from``, detected as:

    * ``None``: random initialisation;
    * a file (``.pth``, ``.pth.tar``, ``.pt``, ``.bin``, ``.safetensors``): an original SimTrack checkpoint;
    * a folder whose ``config.json`` has ``model_type`` "simtrack": a SimTrack ``save_pretrained`` folder (its own
      config is used);
    * a folder with a CLIP (vision) config: CLIP vision weights for the backbone, fresh pos_fc/bottleneck/head.
    """
    from .convert_simtrack import convert_original_state_dict, load_original_checkpoint, simtrack_from_clip_vision

    if init_from is None or str(init_from) == "":
        return SimTrackModel(config)
    path = Path(init_from)
    if path.is_file():
        model = SimTrackModel(config)
        model.load_state_dict(convert_original_state_dict(load_original_checkpoint(path), config), strict=True)
        return model
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ValueError(f"--init_from {str(init_from)!r}: neither a checkpoint file nor a folder with config.json")
    model_type = json.loads(config_file.read_text()).get("model_type", "")
    if model_type == "simtrack":
        return SimTrackModel.from_pretrained(path)
    if model_type.startswith("clip"):
        return simtrack_from_clip_vision(str(path), config)
    raise ValueError(f"--init_from {str(init_from)!r}: unsupported model_type {model_type!r} (simtrack or clip)")


def _ensure_rendered(root: str | os.PathLike, params: dict[str, Any], write: Any) -> Path:
    """Render a dataset once under ``root``: ``write(tmp)`` fills a temporary sibling folder that is renamed to
    ``root`` with a ``.complete`` marker recording ``params``. A folder this package rendered with other params
    is replaced; a non-empty folder without the marker is someone else's and is never touched (ValueError)."""
    import shutil
    import tempfile

    root = Path(root)
    marker = root / ".complete"
    if marker.is_file():
        if json.loads(marker.read_text()) == params:
            return root
        shutil.rmtree(root)  # ours (the marker says so), rendered with other arguments
    elif root.exists() and any(root.iterdir()):
        raise ValueError(
            f"{root} is not empty and was not rendered by simtrack_hf (no .complete marker); "
            "choose an empty or new folder"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        write(tmp)
        (tmp / ".complete").write_text(json.dumps(params))
        if root.exists():
            root.rmdir()
        tmp.rename(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def ensure_synthetic_got10k(
    root: str | os.PathLike, num_sequences: int = 60, num_frames: int = 40, size: tuple[int, int] = (240, 320),
    seed: int = 0,
) -> Path:
    """Write (once) a deterministic synthetic GOT-10k train split under ``root``; returns ``root``.

    Rendered atomically (see ``_ensure_rendered``): an interrupted run leaves nothing that looks complete.
    """
    from .data import write_got10k_dataset

    params = {"num_sequences": num_sequences, "num_frames": num_frames, "size": list(size), "seed": seed}
    return _ensure_rendered(root, params, lambda tmp: write_got10k_dataset(
        tmp, num_sequences=num_sequences, num_frames=num_frames, size=tuple(size), seed=seed))


def ensure_photo_got10k(
    root: str | os.PathLike, photo_paths: list[Path], num_sequences: int = 100, num_frames: int = 40,
    size: tuple[int, int] = (240, 320), seed: int = 0,
) -> Path:
    """Write (once) videos rendered from ``photo_paths`` as a GOT-10k train split under ``root``; returns ``root``."""
    from .data.photos import load_photos, write_photo_dataset

    params = {"photos": [str(p) for p in photo_paths], "num_sequences": num_sequences, "num_frames": num_frames,
              "size": list(size), "seed": seed, "kind": "photos"}
    return _ensure_rendered(root, params, lambda tmp: write_photo_dataset(
        load_photos(photo_paths), tmp, num_sequences=num_sequences, num_frames=num_frames, size=size, seed=seed))


_CHECKPOINT_FILES = ("trainer_state.json", "model.safetensors", "optimizer.pt", "scheduler.pt")


def last_complete_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The newest ``checkpoint-<step>`` folder holding every file a resume needs, or None.

    Incomplete folders (a run killed while saving) are skipped with a warning naming them.
    """
    import logging

    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    steps = sorted(
        (int(p.name.split("-")[1]), p) for p in folder.glob("checkpoint-*") if p.name.split("-")[1].isdigit()
    )
    for _, path in reversed(steps):
        missing = [name for name in _CHECKPOINT_FILES if not (path / name).is_file()]
        if not missing:
            try:
                json.loads((path / "trainer_state.json").read_text())
                return path
            except ValueError:
                missing = ["trainer_state.json (unreadable)"]
        logging.getLogger(__name__).warning("skipping incomplete checkpoint %s (missing %s)", path, ", ".join(missing))
    return None
