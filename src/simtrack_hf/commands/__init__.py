"""The `simtrack` subcommands, one module each (option builder + runner). The argparse tree and `main` live in
the `simtrack_cli` package (outside `simtrack_hf`, so `simtrack --help` imports no torch); they are re-exported
here for `python -m simtrack_hf.commands` (what `torchrun -m` / `accelerate launch -m` start) and `scripts/*.py`.
"""

from simtrack_cli import COMMANDS, USER_ERRORS, build_parser, error_line, main

__all__ = ["COMMANDS", "USER_ERRORS", "build_parser", "error_line", "main"]
