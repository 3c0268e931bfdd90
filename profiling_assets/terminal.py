"""What the command line shows while it works: a progress bar on a terminal, plain lines
anywhere else (a log file, CI, a pipe), and colour only where a person is looking.

A ``Bar`` is also a ``Callable[[str], None]``: functions that report through a plain
``progress`` callback (``synthetic.generate``, ``importer.import_export``) take one as it is
and, through ``report``, move it on when they finish a unit of work.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, Self, TextIO

# A status is one line of at most this many characters; the bar cuts it further to the
# width the terminal leaves.
STATUS_WIDTH = 120


def interactive(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (standard output) is a terminal a person watches: bars redraw in
    place there; everywhere else a bar's carriage returns would litter the log."""
    stream = stream or sys.stdout
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def colour(stream: TextIO | None = None) -> bool:
    """Colour on a terminal unless NO_COLOR is set to anything but "" (https://no-color.org)."""
    return interactive(stream) and not os.environ.get("NO_COLOR")


_STYLES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


def paint(text: str, style: str) -> str:
    """``text`` in ``style`` (bold, dim, red, green, yellow, cyan) where colour is on."""
    return f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if colour() else text


class Bar:
    """Work counted towards a total: ``advance`` moves it on, with a status line (the unit
    just done); calling it prints a line to keep.

    On a terminal: a live bar with the count, the rows per second, the time left and the
    status; lines print above it, and it vanishes when closed (the lines stay). Not on a
    terminal: each status is a plain line, as without a bar.
    """

    def __init__(self, label: str, total: int | None = None, *, unit: str = "items",
                 rows_label: str = "rows", indent: str = "  ", live: bool | None = None) -> None:
        self.label, self.unit, self.rows_label, self.indent = label, unit, rows_label, indent
        self.total, self.completed, self.rows = total, 0, 0
        self._progress = _live_progress() if (interactive() if live is None else live) else None
        self._started = False  # drawn from the first figures on, not before
        if self._progress is not None:
            self._task = self._progress.add_task(label, total=total, count="", status="",
                                                 rows=0, rows_label=rows_label, unit=unit)

    @property
    def live(self) -> bool:
        return self._progress is not None

    def __call__(self, message: str) -> None:
        """A line worth keeping (a note, a month's figures): above the bar, or plain."""
        if self._progress is not None:
            from rich.text import Text

            self._start()
            self._progress.console.print(Text(self.indent + message), soft_wrap=True)
        else:
            print(self.indent + message, flush=True)

    def set_total(self, total: int | None) -> None:
        self.total = total
        if self._progress is not None:
            self._progress.update(self._task, total=total)

    def advance(self, n: int = 1, *, rows: int = 0, status: str | None = None) -> None:
        self.update(self.completed + n, rows=self.rows + rows, status=status)

    def update(self, completed: int | None = None, *, rows: int | None = None,
               status: str | None = None, count: str | None = None) -> None:
        """Set the figures; ``count`` replaces the "done/total unit" text on the bar."""
        if completed is not None:
            self.completed = completed
        if rows is not None:
            self.rows = rows
        if self._progress is None:
            if status:
                print(self.indent + status, flush=True)
            return
        fields: dict[str, Any] = {"rows": self.rows}
        if status is not None:
            fields["status"] = _clip(status)
        if count is not None:
            fields["count"] = count
        self._progress.update(self._task, completed=self.completed, **fields)
        self._start()

    def _start(self) -> None:
        if self._progress is not None and not self._started:
            self._started = True
            self._progress.start()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def report(progress: Callable[[str], None] | None, message: str | None = None, *,
           advance: int = 0, rows: int = 0) -> None:
    """Tell ``progress`` about work done. A ``Bar`` advances by ``advance`` with ``message``
    as its status (or prints ``message`` as a line when nothing advanced); a plain callback
    gets ``message``."""
    if progress is None:
        return
    if isinstance(progress, Bar):
        if advance or rows:
            progress.advance(advance, rows=rows, status=message)
        elif message:
            progress(message)
    elif message:
        progress(message)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= STATUS_WIDTH else text[: STATUS_WIDTH - 1] + "…"


def duration(seconds: float) -> str:
    """A short duration: 9s, 1m05s, 2h03m."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _live_progress():
    """rich's live display, imported only where a terminal shows it: label, bar, figures
    (done/total, rows per second, time left), then the status in what width is left."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
    from rich.table import Column
    from rich.text import Text

    class FiguresColumn(ProgressColumn):
        def render(self, task) -> Text:
            fields = task.fields
            total = f"/{task.total:,.0f}" if task.total is not None else ""
            text = Text(fields["count"] or f"{task.completed:,.0f}{total} {fields['unit']}")
            if fields["rows"] and task.elapsed:
                text.append(f"  {fields['rows'] / task.elapsed:,.0f} {fields['rows_label']}/s",
                            style="cyan")
            if task.time_remaining is not None and not task.finished:
                text.append(f"  ETA {duration(task.time_remaining)}", style="yellow")
            return text

    # one line whatever the width: the figures keep theirs (no wrapping), the status takes
    # what is left (the one ratio column of an expanded table) and is cut with an ellipsis
    return Progress(
        TextColumn("  [bold]{task.description}", table_column=Column(no_wrap=True)),
        BarColumn(bar_width=20, table_column=Column(no_wrap=True)),
        FiguresColumn(table_column=Column(no_wrap=True)),
        TextColumn("{task.fields[status]}", markup=False, style="dim",
                   table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
        console=Console(file=sys.stdout, no_color=not colour()), transient=True,
        refresh_per_second=4, expand=True)
