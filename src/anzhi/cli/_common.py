"""What every command shares: the consoles, the workspace, JSON output, exit codes and small parsers."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from anzhi.errors import ConfigurationError, InputError

if TYPE_CHECKING:  # settings (pydantic-settings) and the store load only for commands that use them
    from pydantic import ValidationError

    from anzhi.config import Settings
    from anzhi.workspace import Workspace

__all__ = [
    "EXIT_INPUT",
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "EXIT_STORE",
    "LEVEL_STYLE",
    "add_row",
    "emit_json",
    "err_console",
    "iso",
    "make_table",
    "open_workspace",
    "out",
    "page_line",
    "parse_date",
    "parse_datetime",
    "say",
    "settings",
    "short_time",
    "validation_message",
]

EXIT_OK = 0
EXIT_PROBLEMS = 1  # the command ran and found problems (audit verify)
EXIT_INPUT = 2  # bad input or configuration: nothing was changed
EXIT_STORE = 3  # the database cannot be reached or its schema is not current

LEVEL_STYLE: dict[str, str] = {
    "low": "green",  # keys are anzhi.store.RiskLevel values
    "medium": "yellow",
    "high": "dark_orange",
    "very_high": "red",
    "extreme": "bold red",
}


def out() -> Console:
    """A console on stdout (made per call, so it follows the current stream and ``COLUMNS``)."""
    return Console(highlight=False)


def err_console() -> Console:
    """A console on stderr."""
    return Console(stderr=True, highlight=False)


def say(message: str, style: str = "") -> None:
    """One line on stdout, never wrapped and never read as markup."""
    out().print(Text(message, style=style), soft_wrap=True)


def emit_json(data: object) -> None:
    """Write ``data`` as indented JSON on stdout (UTF-8 text kept as is)."""
    out().out(json.dumps(data, ensure_ascii=False, indent=2, default=str), highlight=False)


def make_table(title: str, *columns: str) -> Table:
    """A table with the house style; cells are added as plain text (no markup)."""
    table = Table(title=title, title_justify="left", header_style="bold", show_lines=False)
    for column in columns:
        table.add_column(column)
    return table


def add_row(table: Table, cells: Sequence[object], style: str | None = None) -> None:
    """Add a row of plain-text cells (``None`` shows as an empty cell)."""
    table.add_row(*(Text("" if cell is None else str(cell)) for cell in cells), style=style)


def validation_message(error: ValidationError) -> str:
    """A pydantic error as one readable line: ``field: problem; field: problem``."""
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
    return "; ".join(parts)


def settings() -> Settings:
    """The settings from the environment now, with a bad ``ANZHI_*`` value reported as a configuration error."""
    from pydantic import ValidationError

    from anzhi.config import load_settings

    try:
        return load_settings()
    except ValidationError as exc:
        raise ConfigurationError(f"invalid ANZHI_* setting: {validation_message(exc)}") from exc


@contextmanager
def open_workspace(*, check_schema: bool = True, sweep: bool = False) -> Iterator[Workspace]:
    """Open the configured workspace for one command and close it afterwards.

    Args:
        check_schema: refuse (with :class:`~anzhi.errors.StoreUnavailableError`) a database that cannot be
            reached or whose schema is not this version's; ``init`` and ``serve`` pass False and migrate.
        sweep: first apply what time alone changes (risks whose acceptance expired reopen), so what the
            command shows is current.
    """
    from anzhi.workspace import Workspace

    workspace = Workspace.open(settings())
    try:
        if check_schema:
            workspace.store.ensure_current()
        if sweep:
            workspace.sweep()
        yield workspace
    finally:
        workspace.close()


def parse_date(value: str | None, option: str) -> date | None:
    """``YYYY-MM-DD`` → date, or an :class:`InputError` naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{option}: {value!r} is not a date; use YYYY-MM-DD") from None


def parse_datetime(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or date-time → aware datetime; one without a zone is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"{option}: {value!r} is not an ISO 8601 date-time; use e.g. 2027-06-30 or 2027-06-30T18:00+08:00"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def page_line(offset: int, shown: int, total: int) -> str:
    """``11–20 of 57`` for a page of results."""
    if not shown:
        return f"none of {total} shown" if total else "nothing matched"
    return f"{offset + 1}–{offset + shown} of {total}"


def iso(value: date | datetime | None) -> str | None:
    """ISO text of a date or time, or None."""
    return None if value is None else value.isoformat()


def short_time(value: datetime | None) -> str:
    """A time for tables: ``2026-11-26 21:58`` in UTC."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


