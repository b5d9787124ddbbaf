"""The one exit convention of pointdet's command-line tools.

``sys.exit(run_cli(main))`` at the end of every tool: success is exit status 0 (or the
integer ``main`` returns); an input error (a malformed or missing file, a bad id or value, an
unwritable output) is one line ``error: <message>`` on stderr and exit status 2, without a
traceback; anything else is a bug and keeps its traceback (exit status 1).
"""
import argparse
import sys
from typing import Callable, Optional, Sequence

__all__ = ["INPUT_ERRORS", "DefaultsHelpFormatter", "run_cli"]

#: exceptions that mean "bad input" (CocoFormatError and the proposal/pickle errors are ValueErrors)
INPUT_ERRORS = (ValueError, KeyError, OSError)


def run_cli(main: Callable[[Optional[Sequence[str]]], Optional[int]], argv: Optional[Sequence[str]] = None) -> int:
    """Run ``main(argv)`` and turn its outcome into an exit status (see the module docstring)."""
    try:
        status = main(argv)
    except INPUT_ERRORS as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {message}", file=sys.stderr)
        return 2
    return status if isinstance(status, int) and not isinstance(status, bool) else 0


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """``--help`` keeps the tool docstring's layout and shows every option's default."""
