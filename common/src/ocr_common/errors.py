"""One-line errors for users, instead of tracebacks from deep inside a library."""

from __future__ import annotations

import sys
from collections.abc import Callable


class UserError(Exception):
    """A problem the user can fix (bad file, bad key, bad value); printed as one line."""


def check_version(source: object, name: str, found: object, supported: object) -> None:
    """The one format-version check of every file format (token table, exports, checkpoints):
    a UserError "SOURCE: NAME FOUND, this code reads SUPPORTED" unless `found == supported`."""
    if found != supported:
        raise UserError(f"{source}: {name} {found}, this code reads {supported}")


def run_cli(main: Callable[[], object]) -> None:
    """Run an entry point; a `UserError` becomes `error: …` on stderr and exit status 2."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
