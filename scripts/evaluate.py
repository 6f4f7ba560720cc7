#!/usr/bin/env python
"""Evaluate SimTrack on a benchmark: the same as `simtrack evaluate` (logic in `simtrack_hf.commands.evaluate`).

    python scripts/evaluate.py --dataset-format lasot --root /data/LaSOT --model ORG/sim-b16 --baseline static
    python scripts/evaluate.py --dataset-format got10k --split test --root /data/GOT-10k --model ORG/sim-b16
    python scripts/evaluate.py --dataset-format otb --root /data/OTB100 --no-model --compare original=raw/otb
"""

import sys

from simtrack_hf.commands import main

if __name__ == "__main__":
    main(["evaluate", *sys.argv[1:]])
