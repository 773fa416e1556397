"""`python -m ml4t_live_core` runs the `ml4t-live` command."""

from ml4t_live_core.cli import main

main()
