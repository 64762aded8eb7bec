"""``python -m service.loadtest ...``: the load generator without the rest of the CLI."""

import argparse
import sys

from service.loadtest.command import add_arguments, run_command


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m service.loadtest")
    add_arguments(parser)
    return run_command(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
