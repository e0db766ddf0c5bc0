"""Command lines shared by the `python src/*.py` scripts and the `inverse-dalle` console script.

Each command is a function `command(argv=None, prog=None)`: the script calls it with its own
`sys.argv`, `inverse-dalle NAME …` with the rest of the line and `prog="inverse-dalle NAME"`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def command_parser(
    description: str, examples: Sequence[str], prog: str | None
) -> argparse.ArgumentParser:
    """A parser whose --help ends with `examples` (command lines; %(prog)s is the command)."""
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog="examples:\n" + "".join(f"  {line}\n" for line in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
