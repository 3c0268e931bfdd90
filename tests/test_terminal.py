"""What the command line shows while it works: plain lines where no terminal watches (logs,
CI, pipes: no carriage returns, no colour codes), a bar's figures counted right, and a run's
steps and days followed from its events and its assets' per-day log lines."""

import io
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from dagster._core.events import DagsterEventType

from profiling_assets import synthetic, terminal
from profiling_assets.importer import estimated_rows, import_export, load_mapping, resolve_source
from profiling_assets.runs import RunFollower, RunOutcome, days_between, run_link, ui_url
from profiling_assets.terminal import Bar, paint, report

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_and_bars_only_on_a_terminal(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert terminal.interactive(Terminal()) and terminal.colour(Terminal())
    assert not terminal.interactive(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert terminal.interactive(Terminal()) and not terminal.colour(Terminal())
    monkeypatch.setenv("NO_COLOR", "")  # set but empty: colour stays on (no-color.org)
    assert terminal.colour(Terminal())
    monkeypatch.setenv("TERM", "dumb")
    assert not terminal.interactive(Terminal())
    monkeypatch.setattr("sys.stdout", Terminal())
    monkeypatch.setenv("TERM", "xterm")
    assert paint("done", "green") == "\x1b[32mdone\x1b[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert paint("done", "green") == "done"


def test_a_bar_off_a_terminal_prints_plain_lines(capsys):
    with Bar("generate", 3, unit="days") as bar:  # pytest's captured stdout is no terminal
        assert not bar.live
        report(bar, "2026-10-01: 10 lines", advance=1, rows=10)
        report(bar, None, advance=1, rows=5)      # no status: nothing to print
        report(bar, "note: kept")                 # nothing advanced: a line to keep
        bar.advance(status="2026-10-03: 7 lines", rows=7)
    assert (bar.completed, bar.rows, bar.total) == (3, 22, 3)
    out = capsys.readouterr().out
    assert out == "  2026-10-01: 10 lines\n  note: kept\n  2026-10-03: 7 lines\n"
    # a plain callback gets the lines, whatever advanced
    lines = []
    report(lines.append, "a day", advance=1, rows=3)
    report(lines.append, None, advance=1)
    assert lines == ["a day"]


def test_a_bar_on_a_terminal_draws_in_place_and_keeps_the_lines(monkeypatch):
    screen = Terminal()
    monkeypatch.setattr("sys.stdout", screen)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("NO_COLOR", "1")
    with Bar("import", 40, unit="rows") as bar:
        assert bar.live
        bar("note: kept above the bar")
        bar.advance(10, rows=10, status="chunk 1")
        bar.update(40, rows=40, count="all 40 rows", status="chunk 4")
        print("a line printed meanwhile")
    out = screen.getvalue()
    assert "note: kept above the bar" in out and "a line printed meanwhile" in out
    assert "import" in out and "\x1b[" in out  # drawn (cursor moves), colour or not
    assert "\x1b[3" not in out  # NO_COLOR: no colour codes


def test_generate_moves_a_bar_a_day_at_a_time(tmp_path, capsys):
    with Bar("generate", 3, unit="days", rows_label="lines") as bar:
        summary = synthetic.generate(tmp_path, users=30, products=synthetic.N_CATEGORIES,
                                     days=3, start=date(2026, 10, 1), seed=1, progress=bar)
    assert bar.completed == 3 and bar.rows == sum(d["lines"] for d in summary["days"])
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "  2026-10-01", "  2026-10-02", "  2026-10-03"]
    assert "\r" not in out and "\x1b" not in out
    with Bar("generate", 10, unit="days") as bar:  # closed days count as days done too
        summary = synthetic.generate_orders(tmp_path / "orders", users=30, products=20, days=10,
                                            start=date(2026, 10, 1), progress=bar)
    assert bar.completed == 10 and bar.rows == sum(d["lines"] for d in summary["days"])
    assert "2026-10: " in capsys.readouterr().out  # the month's figures: a line to keep


def test_import_counts_rows_towards_the_export_size(data_dir, capsys):
    sample, mapping = EXAMPLES / "online_retail_sample.csv", EXAMPLES / "online_retail.yaml"
    assert estimated_rows(sample, resolve_source(sample, load_mapping(mapping))) == 32
    with Bar("import", unit="rows") as bar:
        summary = import_export(sample, mapping, data_dir, chunk_rows=7, progress=bar)
    assert (bar.total, bar.completed, bar.rows) == (32, 32, 32) == (32, summary["rows_read"], 32)
    assert capsys.readouterr().out.count("rows read") == 5  # a line per chunk of 7


class RecordingBar:
    live = True

    def __init__(self):
        self.rows, self.updates, self.total = 0, [], None

    def set_total(self, total):
        self.total = total

    def update(self, completed=None, *, rows=None, status=None, count=None):
        if rows is not None:
            self.rows = rows
        self.updates.append((completed, count, status))


def event(kind, step, **data):
    return SimpleNamespace(event_type=kind, step_key=step,
                           event_specific_data=SimpleNamespace(**data))


def log(step, message):
    return SimpleNamespace(dagster_event=None, step_key=step, user_message=message)


def materialization(key, rows):
    import dagster as dg

    mat = dg.AssetMaterialization(key, metadata={"dagster/row_count": rows})
    return event(DagsterEventType.ASSET_MATERIALIZATION, key, materialization=mat)


def test_a_run_is_followed_by_steps_and_days():
    days = days_between("2026-10-01", "2026-10-04")
    assert days == ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"]
    said, bar = [], RecordingBar()
    outcome = RunOutcome("r1", "daily_ingest", False, 0.0)
    follower = RunFollower(outcome, days, steps=2, bar=bar, say=said.append)
    assert bar.total == 8  # steps x days

    follower.event(event(DagsterEventType.STEP_START, "raw_events"))
    follower.log(log("raw_events", "2026-10-02 (2/4): 120 lines from 1 file(s)"))
    assert bar.updates[-1] == (2, "step 1/2 raw_events, day 2/4", "2026-10-02 (2/4): 120 lines from 1 file(s)")
    follower.log(log("cleaned_events", "2026-10-03: another step's line"))  # not the step running
    follower.log(log("raw_events", "Encoder v1 on CPU"))                    # no day: status only
    assert bar.updates[-1] == (2, "step 1/2 raw_events, day 2/4", "Encoder v1 on CPU")
    follower.log(SimpleNamespace())  # whatever arrives, the run goes on
    # a range repeats the materialization for every day: its rows count once
    for _ in days:
        follower.event(materialization("raw_events", 480))
    assert bar.rows == 480
    follower.event(event(DagsterEventType.STEP_SUCCESS, "raw_events"))
    assert said[-1].startswith("    raw_events done in ")
    assert ": 4 days, 480 rows (" in said[-1] and said[-1].endswith("; 1/2 steps")
    assert bar.updates[-1][:2] == (4, "1/2 steps done")

    follower.event(event(DagsterEventType.STEP_START, "text_embeddings"))
    # a range's label is not a day done; progress within a day (embedding) is a share of it
    follower.log(log("text_embeddings", "2026-10-01..2026-10-04 (4 days): starting"))
    assert bar.updates[-1][:2] == (4, "step 2/2 text_embeddings, day 0/4")
    follower.log(log("text_embeddings", "2026-10-03: encoded 512/2,048 texts"))
    assert bar.updates[-1][:2] == (4 + 2.25, "step 2/2 text_embeddings, day 2/4")
    follower.log(log("text_embeddings", "2026-10-04: 2,048 distinct texts, 0 cached"))
    assert bar.updates[-1][:2] == (8, "step 2/2 text_embeddings, day 4/4")


def test_a_fit_is_followed_by_its_training_steps():
    said, bar = [], RecordingBar()
    follower = RunFollower(RunOutcome("r2", "train_text_encoder", False, 0.0), [], steps=1,
                           bar=bar, say=said.append)
    follower.event(event(DagsterEventType.STEP_START, "text_encoder"))
    follower.log(log("text_encoder", "step 120/480: loss 0.412"))
    assert bar.updates[-1] == (0.25, "step 1/1 text_encoder", "step 120/480: loss 0.412")
    failed = SimpleNamespace(passed=False, asset_key=SimpleNamespace(to_user_string=lambda: "text_encoder"),
                             check_name="beats_frozen", severity=None,
                             description="0.61 is not above the frozen 0.64; kept as candidate")
    follower.event(event(DagsterEventType.ASSET_CHECK_EVALUATION, "text_encoder", **vars(failed)))
    assert said == ["    check failed: text_encoder:beats_frozen: 0.61 is not above the frozen 0.64"]


def test_run_links_follow_the_ui_url(monkeypatch):
    monkeypatch.delenv("PROFILING_UI_URL", raising=False)
    assert run_link("abc") == "http://127.0.0.1:3000/runs/abc"
    monkeypatch.setenv("PROFILING_UI_URL", "https://dagster.example.com/")
    assert ui_url() == "https://dagster.example.com"
    assert run_link("abc") == "https://dagster.example.com/runs/abc"
