"""``python -m service`` runs the ``chorus`` command."""

from service.cli import entry_point

entry_point()
