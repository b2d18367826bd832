"""The ``anzhi`` command line (Typer + Rich): one module per command group, errors handled once in ``_app``.

Exit codes: 0 done, 1 problems found (``audit verify``), 2 bad input or configuration (nothing changed),
3 database unreachable or schema not current.
"""

from anzhi.cli._app import app, main

__all__ = ["app", "main"]
