"""``python -m legato``: the command line (the same as the ``legato`` command)."""

from legato.cli.app import main

main()
