#!/usr/bin/env python
"""Upload a SimTrack variant to the Hugging Face Hub: the same as `simtrack push-to-hub`.

    python scripts/push_to_hub.py --variant sim-b16 --repo-id ORG/sim-b16 --checkpoint sim-vit-b-16.pth
    python scripts/push_to_hub.py --variant sim-b16 --repo-id ORG/sim-b16 --from-folder runs/sim-b16 --dry-run out/
    python scripts/push_to_hub.py --variant sim-l14 --repo-id ORG/sim-l14-clip-init --clip clip-vit-large-patch14/
    python scripts/push_to_hub.py --measure-flops --write-cards   # refresh src/simtrack_hf/model_cards/
"""

import sys

from simtrack_hf.commands import main

if __name__ == "__main__":
    main(["push-to-hub", *sys.argv[1:]])
