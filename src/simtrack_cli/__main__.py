"""`python -m simtrack_cli ...`: the `simtrack` command."""

from . import main

main()
