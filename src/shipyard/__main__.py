"""``python -m shipyard`` runs the command line."""

from shipyard.cli.main import main

main()
