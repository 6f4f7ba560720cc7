#!/usr/bin/env python
"""Train SimTrack with the 🤗 Trainer (reference recipe: AdamW, backbone lr x0.1, step decay, grad clip 0.1).

Examples:
    # no data flag: a deterministic synthetic GOT-10k-layout dataset and the small config (runs anywhere)
    python scripts/train.py --output_dir runs/synthetic --max_steps 200 --per_device_train_batch_size 16

    # real data, Sim-B/16 from CLIP ViT-B/16 weights (a local CLIPVisionModel folder)
    accelerate launch scripts/train.py --variant sim-b16 --init_from clip-vit-base-patch16 \\
        --data got10k:/data/got10k,lasot:/data/lasot,coco:/data/coco,trackingnet:/data/trackingnet \\
        --output_dir runs/sim-b16 --num_train_epochs 50 --per_device_train_batch_size 64

    # 2 CPU processes (gloo); torchrun works too: torchrun --standalone --nproc_per_node 2 scripts/train.py ...
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 \\
        --mixed_precision no --dynamo_backend no scripts/train.py --output_dir runs/ddp --max_steps 20

Epochs are epochs of ``--samples_per_epoch`` pairs (60000 in the reference). The run is one pass over a pair
dataset of virtual length ``samples_per_epoch x epochs`` (see ``simtrack_hf.training.plan_training``), so the
Trainer's own "epoch" counter runs from 0 to 1; ``data_epoch`` in the logs counts epochs of pairs.
``--resume_from_checkpoint PATH`` (or ``last``) continues exactly. Flags accept dashes or underscores.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field

import torch
from transformers import HfArgumentParser, set_seed
from transformers.trainer_utils import get_last_checkpoint

from simtrack_hf import SimTrackImageProcessor
from simtrack_hf.data import TrackingPairDataset, collate_pairs, load_sources, source_ratios
from simtrack_hf.training import (
    SimTrackTrainer,
    SimTrackTrainingArguments,
    build_config,
    ensure_synthetic_got10k,
    init_model,
    plan_training,
)

logger = logging.getLogger("simtrack_hf.train")


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
    synthetic_dir: str | None = field(
        default=None, metadata={"help": "Where the synthetic dataset goes (default OUTPUT_DIR/synthetic_data)."}
    )
    synthetic_sequences: int = field(default=60, metadata={"help": "Synthetic sequences (no --data)."})
    synthetic_frames: int = field(default=40, metadata={"help": "Frames per synthetic sequence."})
    synthetic_seed: int = field(default=0, metadata={"help": "Seed of the synthetic dataset."})


def build_dataset(sim: SimTrackArguments, args: SimTrackTrainingArguments, processor: SimTrackImageProcessor
                  ) -> TrackingPairDataset:
    """Manifests (building synthetic data when no --data is given; main process first) -> pair dataset."""
    with args.main_process_first(local=True, desc="preparing data"):
        if sim.data:
            spec, cache = sim.data, sim.manifest_cache_dir
        else:
            root = sim.synthetic_dir or os.path.join(args.output_dir, "synthetic_data")
            ensure_synthetic_got10k(root, sim.synthetic_sequences, sim.synthetic_frames, seed=sim.synthetic_seed)
            spec, cache = f"got10k:{root}", sim.manifest_cache_dir or os.path.join(root, "manifests")
        manifests = load_sources(spec, cache_dir=cache)
    _, num_epochs = plan_training(args, sim.samples_per_epoch)
    seed = args.data_seed if args.data_seed is not None else args.seed
    return TrackingPairDataset(
        manifests, processor, ratios=source_ratios(spec), samples_per_epoch=sim.samples_per_epoch,
        num_epochs=num_epochs, seed=seed, max_gap=sim.max_gap,
    )


def parse_args(argv: list[str] | None = None) -> tuple[SimTrackArguments, SimTrackTrainingArguments]:
    # A CPU-only multi-process launch (torchrun / accelerate --multi_gpu) needs the CPU flag to pick gloo;
    # without it every process would silently train alone.
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        os.environ.setdefault("ACCELERATE_USE_CPU", "1")
    parser = HfArgumentParser((SimTrackArguments, SimTrackTrainingArguments))
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(argv[0])
    return parser.parse_args_into_dataclasses(args=argv)


def main(argv: list[str] | None = None) -> SimTrackTrainer:
    sim, args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.process_index == 0 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    expected = int(os.environ.get("WORLD_SIZE", "1"))
    if args.world_size != expected:
        raise RuntimeError(f"launched {expected} processes but the Trainer sees world size {args.world_size}")

    resume = args.resume_from_checkpoint
    if resume is not None and resume.lower() in ("last", "true"):
        resume = get_last_checkpoint(args.output_dir)
        if resume is None:
            raise ValueError(f"--resume_from_checkpoint last: no checkpoint in {args.output_dir}")

    set_seed(args.seed)
    variant = sim.variant or ("sim-b16" if sim.data or sim.init_from else "small")
    config = build_config(variant, sim.config)
    model = init_model(sim.init_from, config)
    config = model.config
    processor = SimTrackImageProcessor.from_model_config(config)
    dataset = build_dataset(sim, args, processor)
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
    return trainer


if __name__ == "__main__":
    main()
