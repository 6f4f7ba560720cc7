"""Training SimTrack with the 🤗 Trainer: the reference recipe (STARK-S stage 1 as SimTrack trains it).

* :class:`SimTrackTrainingArguments`: `TrainingArguments` with the recipe's defaults (lr 1e-4, weight decay 1e-4,
  grad clip 0.1, no column removal, no token averaging, no unused-parameter search, data-loading workers from the
  CPU cores: `default_num_workers`) plus ``backbone_lr_multiplier`` (0.1) and the step decay (x ``lr_drop_factor``
  after ``lr_drop_epoch`` epochs of pairs, as the paper's 40 of 50, or at ``lr_drop_fraction`` of training).
* :class:`SimTrackTrainer`: three parameter groups (head + bottleneck at lr, ``pos_fc`` at lr, rest of the backbone
  at lr x multiplier; weight decay on every parameter; wrapper prefixes of DDP / FSDP / checkpointing / compile
  ignored) for the recipe's AdamW (``optim="adamw_torch"``, the default) or any other ``optim`` the Trainer
  builds; the step schedule (``lr_scheduler_type="constant"``, the default: constant, then x ``lr_drop_factor``)
  or any other Trainer schedule; ``l1_loss``, ``giou_loss``, ``mean_iou`` in the training logs (averaged over the
  logging interval and all ranks; GIoU and IoU over the non-degenerate predictions, with ``degenerate_boxes``, the
  fraction of degenerate ones, and left out when every prediction was degenerate), plus ``data_epoch`` (epochs of
  pairs seen) when the dataset has ``samples_per_epoch``. ``push_to_hub`` uploads the package's Hub export
  (code, ``auto_map``, ``custom_pipelines``, card). A non-finite loss or gradient stops training at that step
  (:class:`TrainingDiverged`, before the optimizer applies it: nothing is saved from it); a save that cannot be
  written (a full disk) is one `OSError`, and `save_model` replaces a saved model only once the new one is written.
* :func:`plan_training`: converts epochs / max_steps into one pass over a :class:`TrackingPairDataset` of virtual
  length ``samples_per_epoch * num_epochs`` (so pairs never repeat across epochs and no epoch counter has to
  reach DataLoader workers).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from transformers import Trainer, TrainerCallback, TrainingArguments


__all__ = ["SimTrackTrainer", "SimTrackTrainingArguments", "StepDecay", "TrainingDiverged", "default_num_workers",
           "plan_training", "samples_per_step", "simtrack_param_groups", "unwrapped_name"]

logger = logging.getLogger(__name__)
RECIPE_OPTIMIZER = "adamw_torch"
"""`optim` of the reference recipe: `torch.optim.AdamW` over the three groups (any other `optim` is the Trainer's)."""
STEP_SCHEDULE = "constant"
"""`lr_scheduler_type` that means the recipe's step schedule: constant, then x `lr_drop_factor` (1 = no drop)."""
_WRAPPERS = frozenset({"module", "_fsdp_wrapped_module", "_checkpoint_wrapped_module", "_orig_mod"})


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
    optim: str = field(
        default=RECIPE_OPTIMIZER, metadata={"help": "adamw_torch (default): the recipe's AdamW; any other Trainer "
                                                    "optimizer name is built over the same three groups."}
    )
    lr_scheduler_type: str = field(
        default=STEP_SCHEDULE, metadata={"help": "constant (default): the recipe's step schedule (constant, then x "
                                                 "lr_drop_factor; lr_drop_factor 1 keeps it constant); any other "
                                                 "type is the Trainer's own (the lr_drop options do not apply)."}
    )
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
        if self.lr_drop_epoch is not None and self.lr_scheduler_type != STEP_SCHEDULE:
            raise ValueError(f"lr_drop_epoch applies to the step schedule (lr_scheduler_type {STEP_SCHEDULE}), not "
                             f"to lr_scheduler_type {self.lr_scheduler_type}: give one or the other")
        super().__post_init__()


def unwrapped_name(name: str) -> str:
    """A parameter name without the segments DDP (``module``), FSDP v1 (``_fsdp_wrapped_module``), activation
    checkpointing and torch.compile (``_orig_mod``) insert: the name in the bare model."""
    return ".".join(part for part in name.split(".") if part not in _WRAPPERS)


def simtrack_param_groups(
    model: nn.Module, learning_rate: float, backbone_lr_multiplier: float = 0.1, weight_decay: float = 1e-4
) -> list[dict[str, Any]]:
    """AdamW groups of the reference: ``head`` (bottleneck + box_head) and ``pos_fc`` at ``learning_rate``,
    ``backbone`` (everything else) at ``learning_rate * backbone_lr_multiplier``; weight decay on all."""
    groups: dict[str, list[nn.Parameter]] = {"head": [], "pos_fc": [], "backbone": []}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if "_flat_param" in name:
            raise ValueError("FSDP flattened the parameters (use_orig_params=False): the recipe's learning-rate "
                             "groups need fsdp_config use_orig_params=true")
        name = unwrapped_name(name)
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


class TrainingDiverged(ValueError):
    """The loss or a gradient became NaN or inf: training stopped before the optimizer applied that step."""


class _StopOnNonFinite(TrainerCallback):
    """Before each optimizer step: stop when the step's loss (any micro-batch, any rank) or gradients are not
    finite. Gradients are not checked under fp16 loss scaling, whose overflow steps are skipped by design."""

    def __init__(self, trainer: "SimTrackTrainer") -> None:
        self.trainer = trainer

    def on_pre_optimizer_step(self, args: TrainingArguments, state: Any, control: Any, **kwargs: Any) -> None:
        trainer = self.trainer
        grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
        finite_grads = (torch.nn.utils.get_total_norm(grads).isfinite()
                        if grads and trainer.accelerator.scaler is None else trainer._loss_finite.new_ones(()))
        bad = torch.stack([~trainer._loss_finite, ~finite_grads]).float()
        if args.world_size > 1:
            bad = trainer.accelerator.reduce(bad, reduction="sum")
        bad_loss, bad_grads = (bad > 0).tolist()
        trainer._loss_finite.fill_(True)
        if bad_loss or bad_grads:
            what = "loss" if bad_loss else "gradient"
            raise TrainingDiverged(
                f"training stopped at step {state.global_step + 1}: the {what} is NaN or inf (learning rate "
                f"{args.learning_rate:g} too high, or bad data); that step was not applied and nothing was saved "
                "from it (earlier checkpoints are intact)"
            )


class SimTrackTrainer(Trainer):
    """`Trainer` with SimTrack's optimiser, step schedule and box metrics in the logs.

    Use with :class:`SimTrackTrainingArguments` (plain `TrainingArguments` work too: the multiplier and drop
    default to 0.1 / 0.8 / 0.1) and pass the image processor as ``processing_class`` so every checkpoint holds it.
    """

    # logged sums: l1 per step; GIoU and IoU weighted by the non-degenerate predictions; counts
    _sum_names = ("l1_loss", "giou_loss", "mean_iou", "steps", "valid", "predictions")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # kept on the training device (no host sync per step)
        self._metric_sums = torch.zeros(len(self._sum_names), dtype=torch.float32, device=self.args.device)
        self._loss_finite = torch.ones((), dtype=torch.bool, device=self.args.device)
        self.add_callback(_StopOnNonFinite(self))

    def training_step(self, model: nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None) -> torch.Tensor:
        loss = super().training_step(model, inputs, num_items_in_batch)
        self._loss_finite &= torch.isfinite(loss).to(self._loss_finite.device)  # checked before the optimizer step
        return loss

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Write the model and processor into a staging folder beside ``output_dir``, then move them in: a save
        that fails (a full disk) leaves the model saved there before intact, and says so in one `OSError`."""
        output_dir = output_dir or self.args.output_dir
        staging = os.path.join(output_dir, ".saving")
        with _written(output_dir, lambda: shutil.rmtree(staging, ignore_errors=True)):
            super().save_model(staging, _internal_call)
            if self.is_world_process_zero():
                for name in os.listdir(staging):
                    os.replace(os.path.join(staging, name), os.path.join(output_dir, name))
                os.rmdir(staging)

    def _save_checkpoint(self, model: nn.Module, trial: Any) -> None:
        folder = os.path.join(self.args.output_dir, f"checkpoint-{self.state.global_step}")
        with _written(folder):  # a half-written checkpoint is skipped by last_complete_checkpoint
            super()._save_checkpoint(model, trial)

    def _arg(self, name: str, default: float) -> float:
        return float(getattr(self.args, name, default))

    def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        """The recipe's three groups, for its AdamW (``optim="adamw_torch"``) or the Trainer's `optim`."""
        if self.optimizer is None:
            model = self.model if model is None else model
            groups = simtrack_param_groups(
                model, self.args.learning_rate, self._arg("backbone_lr_multiplier", 0.1), self.args.weight_decay,
            )
            if self.args.optim == RECIPE_OPTIMIZER:
                self.optimizer = torch.optim.AdamW(
                    groups, lr=self.args.learning_rate, betas=(self.args.adam_beta1, self.args.adam_beta2),
                    eps=self.args.adam_epsilon, weight_decay=self.args.weight_decay,
                )
            else:
                optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
                if "params" in kwargs or "optimizer_dict" in kwargs:
                    raise ValueError(f"optim {self.args.optim} builds its own parameter groups; SimTrack training "
                                     "needs its three (head, pos_fc, backbone x backbone_lr_multiplier)")
                self.optimizer = optimizer_cls(groups, **kwargs)
        return self.optimizer

    def create_scheduler(
        self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None
    ) -> torch.optim.lr_scheduler.LRScheduler:
        """The step schedule for ``lr_scheduler_type="constant"`` (see the module docstring), else the Trainer's."""
        if self.args.lr_scheduler_type != STEP_SCHEDULE:
            return super().create_scheduler(num_training_steps, optimizer)
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
            terms = outputs.loss_dict
            count = terms["l1_loss"].new_tensor(outputs.pred_boxes.shape[0], dtype=torch.float32)
            valid = count - terms["num_degenerate"].float()
            sums = torch.stack([terms["l1_loss"].float(), terms["giou_loss"].float() * valid,
                                terms["mean_iou"].float() * valid, torch.ones_like(count), valid, count])
            self._metric_sums += sums.to(self._metric_sums.device)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log: reached by every rank together, so the reduction is safe
            sums = self._metric_sums
            if self.args.world_size > 1:
                sums = self.accelerator.reduce(sums, reduction="sum")
            l1, giou, iou, steps, valid, count = sums.tolist()
            if steps > 0:
                logs["l1_loss"] = round(l1 / steps, 6)
                logs["degenerate_boxes"] = round(1 - valid / count, 6)
                if valid > 0:
                    logs.update(giou_loss=round(giou / valid, 6), mean_iou=round(iou / valid, 6))
                else:
                    logger.warning("every predicted box since the last log was degenerate (x2 < x1 or y2 < y1): "
                                   "giou_loss and mean_iou are undefined, not logged; the L1 term still trains")
            self._metric_sums.zero_()
            per_epoch = getattr(self.train_dataset, "samples_per_epoch", None)
            if per_epoch:  # epochs of pairs (the Trainer's own epoch counts passes over the virtual length)
                logs["data_epoch"] = round(self.state.global_step * samples_per_step(self.args) / per_epoch, 4)
        super().log(logs, start_time)


    def push_to_hub(self, commit_message: str | None = "End of training", blocking: bool = True,
                    token: str | None = None, revision: str | None = None, private: bool | None = None,
                    **kwargs: Any) -> str | None:
        """Save, then upload the package's Hub export of the model to ``args.hub_model_id`` (or the output folder's
        name): weights, processor, remote code with ``auto_map`` and ``custom_pipelines``, and the card (which
        states the run's base and data when the output folder holds them). Returns the commit URL (rank 0)."""
        from ..tools.hub import WeightsSource, export_for_hub, nearest_variant, push_folder, read_provenance

        self.save_model(_internal_call=True)
        if not self.is_world_process_zero():
            return None
        model = self.accelerator.unwrap_model(self.model)
        repo_id = self.args.hub_model_id or os.path.basename(os.path.abspath(self.args.output_dir))
        source = WeightsSource("folder", self.args.output_dir, training=read_provenance(self.args.output_dir))
        with tempfile.TemporaryDirectory() as upload:
            export_for_hub(model, self.processing_class, nearest_variant(model.config), upload, source,
                           repo_id=repo_id)
            return push_folder(upload, repo_id, private=bool(self.args.hub_private_repo if private is None
                                                             else private),
                               revision=revision or self.args.hub_revision, commit_message=commit_message,
                               token=token or self.args.hub_token)


class _written:
    """Context of a save into ``folder``: a failed write (OSError, or safetensors' / torch.save's own error for one,
    as on a full disk) becomes one `OSError` naming the folder; ``cleanup`` runs on any failure."""

    def __init__(self, folder: str, cleanup: Any = None) -> None:
        self.folder, self.cleanup = folder, cleanup

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> bool:
        if error is None:
            return False
        if self.cleanup is not None:
            self.cleanup()
        write_failed = isinstance(error, OSError) or type(error).__name__ == "SafetensorError" or (
            isinstance(error, RuntimeError) and "write" in str(error).lower())
        if write_failed and not isinstance(error, SaveFailed):
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error).splitlines()[0]
            raise SaveFailed(f"saving to {self.folder} failed (a full disk?): {reason}") from error
        return False


class SaveFailed(OSError):
    """A model or checkpoint could not be written (the first failure, named once)."""


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
