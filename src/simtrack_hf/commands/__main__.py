"""`python -m simtrack_hf.commands ...` (what `torchrun -m` / `accelerate launch -m` start): the `simtrack` command."""

from . import main

main()
