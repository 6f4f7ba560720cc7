#!/usr/bin/env python
"""Train SimTrack: the same as `simtrack train` (logic in `simtrack_hf.training.run`), as a script that
`accelerate launch` and `torchrun` can start. A user error ends it with one line (SIMTRACK_DEBUG=1 shows the
traceback).

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
"""

import sys

from simtrack_hf.commands import main

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])
