"""``chorus loadtest``: a load generator for Realtime conversation servers (see command.py)."""

from service.loadtest.command import add_subcommand, run_command

__all__ = ["add_subcommand", "run_command"]
