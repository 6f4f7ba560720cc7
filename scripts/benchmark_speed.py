#!/usr/bin/env python
"""Speed benchmark of the SimTrack variants: the same as `simtrack benchmark` (logic in `simtrack_hf.tools.speed`).

    python scripts/benchmark_speed.py --variants sim-b16 --frames 20 --threads 2
    python scripts/benchmark_speed.py --backends sdpa,onnxruntime --batch 3 --json results.json
"""

import sys

from simtrack_hf.commands import main

if __name__ == "__main__":
    main(["benchmark", *sys.argv[1:]])
