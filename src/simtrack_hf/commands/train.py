"""`simtrack train`: train SimTrack with the 🤗 Trainer (reference recipe: AdamW, backbone lr x0.1, step decay,
grad clip 0.1) on ``--data`` manifests, or on a deterministic synthetic dataset when no data is given.

Epochs are epochs of ``--samples_per_epoch`` pairs (60000 in the reference). The run is one pass over a pair
dataset of virtual length ``samples_per_epoch x epochs`` (see `simtrack_hf.training.plan_training`), so the
Trainer's own "epoch" counter runs from 0 to 1; ``data_epoch`` in the logs counts epochs of pairs.
``--resume_from_checkpoint PATH`` (or ``last``) continues exactly. Flags accept dashes or underscores; every
`TrainingArguments` field is an option. Multi-process launches run `scripts/train.py` (accelerate / torchrun).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from dataclasses import dataclass, field

import torch
from transformers import HfArgumentParser, set_seed

from ..image_processing_simtrack import SimTrackImageProcessor
from ..inference.runtime import set_threads
from ..loading import load_config, load_model
from ..modeling_simtrack import SimTrackModel
from ..training import (
    SimTrackTrainer,
    SimTrackTrainingArguments,
    TrackingPairDataset,
    collate_pairs,
    ensure_synthetic_got10k,
    last_complete_checkpoint,
    plan_training,
)
from .common import runtime_options

logger = logging.getLogger("simtrack_hf.train")
_DEFAULT_LOGGING_STEPS = {f.name: f.default for f in dataclasses.fields(SimTrackTrainingArguments)}["logging_steps"]


@dataclass
class SimTrackArguments:
    """Model and data options (the rest are `TrainingArguments`)."""

    variant: str | None = field(
        default=None,
        metadata={"help": "Preset (tiny, small) or variant (sim-b16, sim-b32, sim-l14, sim-b16star). Default: "
                          "small without --data/--init_from, else sim-b16 (a SimTrack --init_from brings its own)."},
    )
    config: str | None = field(
        default=None, metadata={"help": "config.json path or inline JSON applied over --variant."}
    )
    init_from: str | None = field(
        default=None,
        metadata={"help": "CLIP vision folder, SimTrack save_pretrained folder, or original .pth checkpoint."},
    )
    data: str | None = field(
        default=None, metadata={"help": "KIND:PATH[:RATIO],... e.g. got10k:/data/got10k,lasot:/data/lasot:2"}
    )
    samples_per_epoch: int = field(default=60000, metadata={"help": "Pairs per epoch."})
    max_gap: int = field(default=200, metadata={"help": "Initial template-search frame gap (MAX_SAMPLE_INTERVAL)."})
    manifest_cache_dir: str | None = field(default=None, metadata={"help": "Manifest cache (default ~/.cache)."})
    rebuild_manifests: bool = field(
        default=False, metadata={"help": "Rebuild the manifests even when the cache matches the label files."}
    )
    synthetic_dir: str | None = field(
        default=None,
        metadata={"help": "Where the synthetic dataset goes (default: a folder per seed and size in the user cache, "
                          "$SIMTRACK_HF_CACHE or ~/.cache/simtrack_hf/synthetic, shared by runs; not OUTPUT_DIR)."},
    )
    synthetic_sequences: int = field(default=60, metadata={"help": "Synthetic sequences (no --data)."})
    synthetic_frames: int = field(default=40, metadata={"help": "Frames per synthetic sequence."})
    synthetic_seed: int = field(default=0, metadata={"help": "Seed of the synthetic dataset."})


def build_dataset(sim: SimTrackArguments, args: SimTrackTrainingArguments, processor: SimTrackImageProcessor
                  ) -> TrackingPairDataset:
    """Manifests (building synthetic data when no --data is given; main process first) -> pair dataset."""
    from ..data.cache import user_cache_dir
    from ..data.manifests import load_sources, source_ratios

    with args.main_process_first(local=True, desc="preparing data"):
        if sim.data:
            spec, cache = sim.data, sim.manifest_cache_dir
        else:
            root = sim.synthetic_dir or str(user_cache_dir() / "synthetic" / (
                f"got10k-seed{sim.synthetic_seed}-{sim.synthetic_sequences}x{sim.synthetic_frames}"))
            ensure_synthetic_got10k(root, sim.synthetic_sequences, sim.synthetic_frames, seed=sim.synthetic_seed)
            spec, cache = f"got10k:{root}", sim.manifest_cache_dir or os.path.join(root, "manifests")
        manifests = load_sources(spec, cache_dir=cache, rebuild=sim.rebuild_manifests)
    _, num_epochs = plan_training(args, sim.samples_per_epoch)
    seed = args.data_seed if args.data_seed is not None else args.seed
    return TrackingPairDataset(
        manifests, processor, ratios=source_ratios(spec), samples_per_epoch=sim.samples_per_epoch,
        num_epochs=num_epochs, seed=seed, max_gap=sim.max_gap,
    )


def field_parser() -> HfArgumentParser:
    """Every `SimTrackArguments` and `SimTrackTrainingArguments` field as an option (dashes or underscores); a
    parent parser of `simtrack train`."""
    return HfArgumentParser((SimTrackArguments, SimTrackTrainingArguments), add_help=False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The positional JSON file that may hold the options instead of flags (the fields come from `field_parser`)."""
    parser.add_argument("json_file", nargs="?", help="a JSON file of the options instead of flags")


def arguments_from_namespace(args: argparse.Namespace) -> tuple[SimTrackArguments, SimTrackTrainingArguments]:
    """The two dataclasses from parsed options (or from the JSON file when one was given)."""
    # A CPU-only multi-process launch (torchrun / accelerate --multi_gpu) needs the CPU flag to pick gloo;
    # without it every process would silently train alone.
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        os.environ.setdefault("ACCELERATE_USE_CPU", "1")
    if args.json_file:
        return tuple(field_parser().parse_json_file(args.json_file))
    values = vars(args)
    return tuple(
        dtype(**{f.name: values[f.name] for f in dataclasses.fields(dtype) if f.init and f.name in values})
        for dtype in (SimTrackArguments, SimTrackTrainingArguments)
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="simtrack train", parents=[field_parser(), runtime_options()])
    add_arguments(parser)
    return parser.parse_args(sys.argv[1:] if argv is None else argv)


def parse_args(argv: list[str] | None = None) -> tuple[SimTrackArguments, SimTrackTrainingArguments]:
    """`simtrack train` options -> the two dataclasses."""
    return arguments_from_namespace(_parse(argv))


def main(argv: list[str] | None = None) -> SimTrackTrainer:
    """Parse `argv`, apply `--threads` (default ``$SIMTRACK_NUM_THREADS``) and train (what `scripts/train.py`
    runs; `simtrack train` gets `--threads` from the command tree)."""
    args = _parse(argv)
    set_threads(args.threads)
    return run(args)


def run(args: argparse.Namespace) -> SimTrackTrainer:
    return train(*arguments_from_namespace(args))


def train(sim: SimTrackArguments, args: SimTrackTrainingArguments) -> SimTrackTrainer:
    """Build the config, model, processor and pair dataset, train, and save model, processor and state."""
    logging.basicConfig(level=logging.INFO if args.process_index == 0 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    expected = int(os.environ.get("WORLD_SIZE", "1"))
    if args.world_size != expected:
        raise RuntimeError(f"launched {expected} processes but the Trainer sees world size {args.world_size}")

    resume = args.resume_from_checkpoint
    if resume is not None and resume.lower() in ("last", "true"):
        resume = last_complete_checkpoint(args.output_dir)  # skips (and names) a half-written newest one
        if resume is None:
            raise ValueError(f"--resume_from_checkpoint last: no complete checkpoint in {args.output_dir}")
        resume = str(resume)
    elif resume is not None and not os.path.isdir(resume):
        raise ValueError(f"--resume_from_checkpoint {resume}: no such checkpoint folder")

    set_seed(args.seed)
    variant = sim.variant or ("sim-b16" if sim.data or sim.init_from else "small")
    config = load_config(variant, sim.config)
    model = load_model(sim.init_from, config) if sim.init_from else SimTrackModel(config)
    config = model.config
    processor = SimTrackImageProcessor.from_model_config(config)
    dataset = build_dataset(sim, args, processor)  # sets args.max_steps
    if args.logging_steps == _DEFAULT_LOGGING_STEPS:  # not given: about 10 training logs, at most every 500 steps
        args.logging_steps = max(1, min(_DEFAULT_LOGGING_STEPS, args.max_steps // 10))
    samples_per_step = args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps
    logger.info("training %s for %d steps (%d pairs/step, %d epochs of %d pairs, world size %d)",
                sim.init_from or variant, args.max_steps, samples_per_step, dataset.num_epochs,
                sim.samples_per_epoch, args.world_size)

    trainer = SimTrackTrainer(
        model=model, args=args, train_dataset=dataset, data_collator=collate_pairs, processing_class=processor,
    )
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model()
    trainer.save_state()
    if args.process_index == 0:
        print(f"saved the trained model and its processor to {os.path.abspath(args.output_dir)}")
    return trainer

