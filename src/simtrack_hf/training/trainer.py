"""Training SimTrack with the 🤗 Trainer: the reference recipe (STARK-S stage 1 as SimTrack trains it).

* :class:`SimTrackTrainingArguments`: `TrainingArguments` with the recipe's defaults (lr 1e-4, weight decay 1e-4,
  grad clip 0.1, no column removal, no token averaging, no unused-parameter search, data-loading workers from the
  CPU cores: `default_num_workers`) plus ``backbone_lr_multiplier`` (0.1) and the step decay (x ``lr_drop_factor``
  after ``lr_drop_epoch`` epochs of pairs, as the paper's 40 of 50, or at ``lr_drop_fraction`` of training).
* :class:`SimTrackTrainer`: AdamW with three parameter groups (head + bottleneck at lr, ``pos_fc`` at lr, rest of
  the backbone at lr x multiplier; weight decay on every parameter), the step schedule, and ``l1_loss``,
  ``giou_loss``, ``mean_iou`` in the training logs (the model returns them; averaged over the logging interval
  and all ranks), plus ``data_epoch`` (epochs of pairs seen) when the dataset has ``samples_per_epoch``.
* :func:`plan_training`: converts epochs / max_steps into one pass over a :class:`TrackingPairDataset` of virtual
  length ``samples_per_epoch * num_epochs`` (so pairs never repeat across epochs and no epoch counter has to
  reach DataLoader workers).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from transformers import Trainer, TrainingArguments


__all__ = ["SimTrackTrainer", "SimTrackTrainingArguments", "StepDecay", "default_num_workers", "plan_training",
           "samples_per_step", "simtrack_param_groups"]


def default_num_workers() -> int:
    """Data-loading workers per training process: this process's share of the usable CPU cores (divided by
    ``LOCAL_WORLD_SIZE``, the processes on this machine) minus one for the process itself, at most 8; 0 (decode in
    the training process) when the share is under 4 cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    share = cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return min(8, share - 1) if share >= 4 else 0


def samples_per_step(args: TrainingArguments) -> int:
    """Pairs per optimizer step: per-device batch x processes x gradient accumulation steps."""
    return args.per_device_train_batch_size * max(args.world_size, 1) * args.gradient_accumulation_steps


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
    lr_drop_epoch: float | None = field(
        default=None, metadata={"help": "Step decay after this many epochs of pairs (the paper: 40 of 50); "
                                        "replaces lr_drop_fraction."}
    )
    lr_drop_factor: float = field(default=0.1, metadata={"help": "Learning rate multiplier after the drop."})
    dataloader_num_workers: int = field(
        default=-1, metadata={"help": "Data-loading worker processes per training process (each decodes frames and "
                                      "crops pairs); -1 (default): the CPU share of this process minus one, at most "
                                      "8, 0 under 4 cores (default_num_workers)."}
    )

    def __post_init__(self) -> None:
        if self.dataloader_num_workers == -1:
            self.dataloader_num_workers = default_num_workers()
        if self.lr_drop_epoch is not None and not self.lr_drop_epoch > 0:
            raise ValueError(f"lr_drop_epoch must be > 0, got {self.lr_drop_epoch}")
        super().__post_init__()


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
        # sums of the logged terms and their count, kept on the training device (no host sync per step)
        self._metric_sums = torch.zeros(len(self._metric_names) + 1, dtype=torch.float32, device=self.args.device)

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
            drop_epoch = getattr(self.args, "lr_drop_epoch", None)
            per_epoch = getattr(self.train_dataset, "samples_per_epoch", None)
            if drop_epoch is not None and not per_epoch:
                raise ValueError("lr_drop_epoch needs a pair dataset with samples_per_epoch; use lr_drop_fraction")
            if drop_epoch is not None:
                drop_step = int(round(drop_epoch * per_epoch / samples_per_step(self.args)))
            else:
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
        if model.training and outputs.loss_dict is not None:
            terms = torch.stack([outputs.loss_dict[name] for name in self._metric_names]).float()
            self._metric_sums += torch.cat((terms.to(self._metric_sums.device), terms.new_ones(1)))
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log: reached by every rank together, so the reduction is safe
            sums = self._metric_sums
            if self.args.world_size > 1:
                sums = self.accelerator.reduce(sums, reduction="sum")
            if sums[-1] > 0:
                logs.update({name: round(float(v / sums[-1]), 6) for name, v in zip(self._metric_names, sums[:-1])})
            self._metric_sums.zero_()
            per_epoch = getattr(self.train_dataset, "samples_per_epoch", None)
            if per_epoch:  # epochs of pairs (the Trainer's own epoch counts passes over the virtual length)
                logs["data_epoch"] = round(self.state.global_step * samples_per_step(self.args) / per_epoch, 4)
        super().log(logs, start_time)


def plan_training(args: TrainingArguments, samples_per_epoch: int) -> tuple[int, int]:
    """(max_steps, num_epochs) for ONE Trainer pass over a pair dataset of length ``samples_per_epoch * num_epochs``.

    With ``args.max_steps > 0`` the dataset gets enough epochs for those steps; otherwise
    ``args.num_train_epochs`` epochs of pairs are turned into steps. ``args`` is left as it is: the caller sets
    ``args.max_steps`` to the returned step count before building the Trainer.
    """
    per_step = samples_per_step(args)
    if args.max_steps > 0:
        max_steps = int(args.max_steps)
    else:
        max_steps = max(1, math.ceil(args.num_train_epochs * samples_per_epoch / per_step))
    num_epochs = max(1, math.ceil(max_steps * per_step / samples_per_epoch))
    return max_steps, num_epochs
