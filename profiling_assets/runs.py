"""Runs of the project's jobs started from the command line.

Each run is created in the Dagster instance with the code location's origin, so the UI lists
it under its job and assets and can re-execute it, and is executed in this process (one
import of TensorFlow and Dagster for a whole command, not one per step). A range of days is
one run per job: the assets loop over the run's partition range.

Before a run takes the warehouse's pool slot, runs of this instance whose process has died
(killed, crashed, rebooted) are marked failed and their slots given back; while another live
run holds the slot, the wait is shown, and it ends with a clear message after a time limit.

Each run prints its id and its page in the UI (``PROFILING_UI_URL``); on a terminal a bar
follows its steps and days (from the per-day lines the assets log), plain lines elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.events import DagsterEventType
from dagster._core.execution.api import execute_run_iterator
from dagster._core.remote_origin import RemoteRepositoryOrigin
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from dagster._core.workspace.load import location_origin_from_module_name

from profiling_assets.terminal import Bar, paint

MODULE = "profiling_assets.definitions"
LOCATION = "profiling_assets"  # as workspace.yaml and [tool.dagster] name the code location
REPOSITORY = "__repository__"  # Dagster's name for the one repository of a Definitions object
POOL = "duckdb"
# The terminal gets one line per step from the event stream (failures with their message);
# Dagster's own console lines, stack traces included, stay in the run's log in the UI.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# Instance settings when DAGSTER_HOME is unset and the folder has none: the one-writer pool.
DEFAULT_INSTANCE_YAML = """\
concurrency:
  pools:
    default_limit: 1
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 30
telemetry:
  enabled: false
"""
ACTIVE = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.CANCELING]
# Where `dg dev` serves the UI by default; PROFILING_UI_URL points the printed links elsewhere.
DEFAULT_UI_URL = "http://127.0.0.1:3000"


def say(message: str) -> None:
    print(message, flush=True)


class RunFailed(RuntimeError):
    """A run ended without success; the message names the failed steps and the run id."""


def pool_wait_seconds() -> float:
    """How long a run waits for the warehouse's pool slot held by another live run
    (``PROFILING_POOL_WAIT_SECONDS``, default 1800)."""
    value = os.environ.get("PROFILING_POOL_WAIT_SECONDS", "1800")
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"PROFILING_POOL_WAIT_SECONDS={value!r} is not a number of seconds") from None


def ui_url() -> str:
    """The UI's base address for links (``PROFILING_UI_URL``, default the `dg dev` address)."""
    return (os.environ.get("PROFILING_UI_URL") or DEFAULT_UI_URL).rstrip("/")


def run_link(run_id: str) -> str:
    """The run's page in the UI."""
    return f"{ui_url()}/runs/{run_id}"


def instance() -> dg.DagsterInstance:
    """The instance under DAGSTER_HOME; without one, ``./.dagster_home`` (created with the
    project's instance settings), so that runs persist and the UI started from here sees them."""
    # A run over a range records one "planned" event per asset instead of one per asset and
    # day: with SQLite storage each event costs about 25 ms, a minute and a half for a year of
    # the daily chain. Dagster's trade-off: the days of a failed run show as missing, not
    # failed (the run itself shows as failed).
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        folder = Path(".dagster_home").resolve()
        folder.mkdir(exist_ok=True)
        settings_file = folder / "dagster.yaml"
        if not settings_file.exists():
            project = Path(__file__).resolve().parent.parent / "instance" / "dagster.yaml"
            settings_file.write_text(project.read_text() if project.is_file() else DEFAULT_INSTANCE_YAML)
        os.environ["DAGSTER_HOME"] = str(folder)
    return dg.DagsterInstance.get()


def repository_origin() -> RemoteRepositoryOrigin:
    """The origin the UI's code location gives this repository (module, location name)."""
    location = location_origin_from_module_name(MODULE, None, None, LOCATION, None)
    return RemoteRepositoryOrigin(location, REPOSITORY)


# ----------------------------------------------------------------------------- dead runs


def _run_pid(inst: dg.DagsterInstance, run_id: str) -> int | None:
    """The process that wrote the run's newest Dagster event (every event records its pid)."""
    records = inst.get_records_for_run(run_id, limit=50, ascending=False).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.pid:
            return event.pid
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def recover_dead_runs(inst: dg.DagsterInstance, say: Callable[[str], None] = say) -> list[str]:
    """Mark runs that the instance believes active but whose process is gone as failed, and
    give back the pool slots they held or waited for. Only runs of this host are judged (a pid
    means nothing elsewhere): the run's events carry the pid; the run's tags, the host."""
    host = socket.gethostname()
    recovered = []
    for run in inst.get_runs(filters=RunsFilter(statuses=ACTIVE)):
        if run.tags.get("profiling/host", host) != host:
            continue
        pid = _run_pid(inst, run.run_id)
        if pid is None or _alive(pid):
            continue
        inst.report_run_failed(
            run, f"The process of this run (pid {pid}) is gone: it was killed or crashed. "
                 "Marked failed and its concurrency slots freed by profiling-assets.")
        inst.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        say(f"  run {run.run_id} ({run.job_name}) was left {run.status.value} by a process "
            f"that is gone (pid {pid}): marked failed, its {POOL} pool slot freed")
        recovered.append(run.run_id)
    # slots still claimed by runs that have ended (a crash between the end and the release)
    info = inst.event_log_storage.get_concurrency_info(POOL)
    for run_id in {s.run_id for s in info.claimed_slots} | {s.run_id for s in info.pending_steps}:
        run = inst.get_run_by_id(run_id)
        if run is None or run.is_finished:
            inst.event_log_storage.free_concurrency_slots_for_run(run_id)
            say(f"  freed the {POOL} pool slot left by finished run {run_id}")
            recovered.append(run_id)
    return recovered


def wait_for_pool(inst: dg.DagsterInstance, timeout: float | None = None,
                  say: Callable[[str], None] = say, poll: float = 2.0) -> None:
    """Return once no live run holds the warehouse's pool slot; say who holds it meanwhile,
    and give up after ``timeout`` seconds with a message that names the holder."""
    timeout = pool_wait_seconds() if timeout is None else timeout
    started = time.monotonic()
    last_said = None
    while True:
        recover_dead_runs(inst, say)
        claimed = inst.event_log_storage.get_concurrency_info(POOL).claimed_slots
        if not claimed:
            return
        holders = sorted({(s.run_id, s.step_key) for s in claimed})
        names = ", ".join(f"run {run_id} ({_job_name(inst, run_id)}, step {step})"
                          for run_id, step in holders)
        waited = time.monotonic() - started
        if waited >= timeout:
            raise SystemExit(
                f"gave up after {waited:.0f} s waiting for the {POOL} pool slot (the warehouse's "
                f"one writer), held by {names}. Wait for that run to finish or terminate it in "
                "the UI; PROFILING_POOL_WAIT_SECONDS sets how long to wait.")
        if last_said is None or time.monotonic() - last_said >= 30:
            say(f"  waiting for the {POOL} pool slot, held by {names} "
                f"({waited:.0f} s so far, giving up after {timeout:.0f} s)")
            last_said = time.monotonic()
        time.sleep(poll)


def _job_name(inst: dg.DagsterInstance, run_id: str) -> str:
    run = inst.get_run_by_id(run_id)
    return run.job_name if run else "unknown run"


# ----------------------------------------------------------------------------- launching


@dataclass
class RunOutcome:
    run_id: str
    job_name: str
    success: bool
    seconds: float
    failed_steps: list[tuple[str, str, str]] = field(default_factory=list)  # step, error, message
    blocked_by_checks: bool = False
    materialized: set[str] = field(default_factory=set)  # asset keys


def partition_tags(first: str | None, last: str | None) -> dict[str, str]:
    """One day as a partition key; several as a range that the assets loop over in one run."""
    if first is None:
        return {}
    if last is None or last == first:
        return {"dagster/partition": first}
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt  # lets Dagster end the run as failed instead of leaving it STARTED


def days_between(first: str | None, last: str | None) -> list[str]:
    """The partition keys (ISO days) first..last; none for a job without partitions."""
    if first is None:
        return []
    start, end = date.fromisoformat(first), date.fromisoformat(last or first)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def launch(inst: dg.DagsterInstance, job_name: str, first: str | None = None,
           last: str | None = None, *, say: Callable[[str], None] = say) -> RunOutcome:
    """Create a run of ``job_name`` (for the day range first..last) with the code location's
    origin and execute it in this process; report progress per step."""
    wait_for_pool(inst, say=say)
    recon_job = ReconstructableRepository.for_module(
        MODULE, "defs", working_directory=os.getcwd()).get_reconstructable_job(job_name)
    job_def = recon_job.get_definition()
    tags = {**partition_tags(first, last), "profiling/host": socket.gethostname(),
            "profiling/launched_by": "profiling-assets"}
    run = inst.create_run_for_job(
        job_def=job_def, run_config=QUIET_LOGS, tags=tags,
        remote_job_origin=repository_origin().get_job_origin(job_name),
        job_code_origin=recon_job.get_python_origin())
    span = "" if first is None else f" {first}" + (f"..{last}" if last and last != first else "")
    say(f"  {job_name}{span}: run {run.run_id}: {paint(run_link(run.run_id), 'cyan')}")

    outcome = RunOutcome(run.run_id, job_name, False, 0.0)
    started = time.perf_counter()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    with Bar(job_name, unit="steps", indent="    ") as bar:
        follower = RunFollower(outcome, days_between(first, last), len(job_def.nodes), bar, say)
        # the per-day lines the assets log reach the instance, not the run's event iterator
        inst.add_event_listener(run.run_id, follower.log)
        try:
            for event in execute_run_iterator(recon_job, run, inst):
                follower.event(event)
        finally:
            signal.signal(signal.SIGTERM, previous)
    outcome.seconds = time.perf_counter() - started
    final = inst.get_run_by_id(run.run_id)
    outcome.success = final is not None and final.status == DagsterRunStatus.SUCCESS
    outcome.blocked_by_checks = bool(outcome.failed_steps) and all(
        "DagsterAssetCheckFailedError" in kind for _, kind, _ in outcome.failed_steps)
    return outcome


# A per-day log line of an asset (metadata.day_logger): "2026-10-05: ..." or
# "2026-10-05 (12/90): ..."; the day is the one just finished. A range label
# ("2026-10-05..2026-10-16 (12 days): ...") is not a day done.
DAY_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?: \(\d+/\d+\))?:")
# ... except a line of progress within the day: text_embeddings' "2026-10-05: encoded
# 4,096/20,480 texts" moves the bar by that share of the day.
WITHIN_DAY = re.compile(r"^: encoded ([\d,]+)/([\d,]+) ")
# A model's fit logs its training steps ("step 120/500: loss 0.412"): a share of the step.
TRAINING_STEP = re.compile(r"^step ([\d,]+)/([\d,]+):")


class RunFollower:
    """Follows one run for the terminal: a line per step done (with its days and rows per
    second), skipped outputs, failed and warning checks, and a bar over steps x days.

    Progress within a step comes from the assets' per-day log lines, every day of a month
    and about a dozen of a longer range: a step that logs none moves the bar when it ends.
    """

    def __init__(self, outcome: RunOutcome, days: list[str], steps: int, bar: Bar,
                 say: Callable[[str], None] = say) -> None:
        self.outcome, self.days, self.steps, self.bar, self.say = outcome, days, steps, bar, say
        self.day_index = {d: i for i, d in enumerate(days)}
        self.per_step = max(len(days), 1)
        self.steps_done = 0
        self.step: str | None = None
        self.day_done = 0.0  # days of the running step done, from its per-day log lines
        self.step_started: dict[str, float] = {}
        self.step_rows: dict[str, int] = {}
        bar.set_total(max(steps, 1) * self.per_step)
        self._show(status="starting")

    # -- the run's events (execute_run_iterator)

    def event(self, event) -> None:
        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            self.step, self.day_done = event.step_key, 0
            self.step_started[event.step_key] = time.perf_counter()
            self._show(status="")
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            self._materialized(event.event_specific_data.materialization, event.step_key)
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE,
                      DagsterEventType.STEP_SKIPPED):
            self.steps_done += 1
            if kind == DagsterEventType.STEP_SUCCESS:
                self.say(self._step_line(event.step_key))
            elif kind == DagsterEventType.STEP_FAILURE:
                self._failed(event)
            self.step, self.day_done = None, 0
            self._show(status="")
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            self._checked(event.event_specific_data)

    def _materialized(self, mat, step_key: str | None) -> None:
        key = mat.asset_key.to_user_string()
        first = key not in self.outcome.materialized  # a range repeats it for every day
        skipped = mat.metadata.get("skipped")
        if skipped and first:
            self.say(f"    {key}: skipped: {skipped.value}")
        self.outcome.materialized.add(key)
        count = mat.metadata.get("dagster/row_count")
        if first and count is not None and isinstance(count.value, int):
            self.step_rows[step_key or key] = self.step_rows.get(step_key or key, 0) + count.value
            self.bar.update(rows=self.bar.rows + count.value)

    def _step_line(self, step_key: str) -> str:
        seconds = time.perf_counter() - self.step_started.get(step_key, time.perf_counter())
        rows = self.step_rows.get(step_key)
        days = f"{len(self.days)} day{'s' if len(self.days) != 1 else ''}" if self.days else ""
        rows_text = ("" if rows is None else f"{rows:,} rows"
                     + (f" ({rows / max(seconds, 1e-9):,.0f}/s)" if rows else ""))
        figures = ", ".join(x for x in (days, rows_text) if x)
        return (f"    {step_key} {paint('done', 'green')} in {seconds:.1f}s"
                + (f": {figures}" if figures else "") + f"; {self.steps_done}/{self.steps} steps")

    def _failed(self, event) -> None:
        error = event.event_specific_data.error
        cls = (error.cls_name or "") if error else ""
        # Dagster wraps the asset's own exception: its innermost cause says what went wrong
        cause = error
        while cause is not None and cause.cause is not None:
            cause = cause.cause
        message = cause.message.strip() if cause else "unknown error"
        message = message.removeprefix("dagster._core.definitions.events.Failure: ").rstrip(".")
        if "Interrupted" in message.split(":")[0]:
            message = "interrupted (Ctrl-C or SIGTERM); the run is marked failed"
        self.outcome.failed_steps.append((event.step_key, cls, message))

    def _checked(self, data) -> None:
        if data.passed:
            return
        name = f"{data.asset_key.to_user_string()}:{data.check_name}"
        said = (data.description or "").split(";")[0][:160]
        # a warning blocks nothing (a goal missed, a model the data cannot train)
        label = (paint("check warning", "yellow") if data.severity == dg.AssetCheckSeverity.WARN
                 else paint("check failed", "red"))
        self.say(f"    {label}: {name}" + (f": {said}" if said else ""))

    # -- log lines (an instance event listener; must never break the run)

    def log(self, entry) -> None:
        # called inside the run's own execution: a progress bar is never worth a failed run
        with contextlib.suppress(Exception):
            if entry.dagster_event is not None or entry.step_key != self.step:
                return
            message = entry.user_message or ""
            found = DAY_LINE.match(message)
            index = self.day_index.get(found.group(1)) if found else None
            if index is not None:
                within = WITHIN_DAY.match(message[len(found.group(1)):])
                self.day_done = index + (_share(within) if within else 1.0)
            elif (training := TRAINING_STEP.match(message)) and not self.days:
                self.day_done = _share(training)
            self._show(status=message)

    def _show(self, *, status: str) -> None:
        if not self.bar.live:
            return  # plain output: the step lines say it
        if self.step is None:
            where = f"{self.steps_done}/{self.steps} steps done"
        else:
            where = f"step {self.steps_done + 1}/{self.steps} {self.step}"
            if self.days:  # whole days done
                where += f", day {int(self.day_done)}/{len(self.days)}"
        self.bar.update(self.steps_done * self.per_step + self.day_done, status=status,
                        count=where)


def _share(found: re.Match) -> float:
    """done/total of a "done/total" match, at most 1."""
    done, total = (int(found.group(i).replace(",", "")) for i in (1, 2))
    return min(done / total, 1.0) if total else 1.0


def failure_message(outcome: RunOutcome) -> str:
    reasons = "; ".join(f"{step}: {message}" for step, _, message in outcome.failed_steps)
    return (f"{outcome.job_name} failed (run {outcome.run_id}): {reasons or 'see its log'}. "
            f"Its steps and logs: {run_link(outcome.run_id)} (the UI: `make ui`).")


def run_job(inst: dg.DagsterInstance, job_name: str, first: str | None = None,
            last: str | None = None, *, allow_blocked: bool = False,
            say: Callable[[str], None] = say) -> RunOutcome:
    """``launch`` and stop the command on failure. A model's failed blocking check is an
    outcome, not a crash (the version stays a candidate), when ``allow_blocked``."""
    outcome = launch(inst, job_name, first, last, say=say)
    if not outcome.success and not (allow_blocked and outcome.blocked_by_checks):
        raise RunFailed(failure_message(outcome))
    ended = paint("done", "green") if outcome.success else paint("ended (blocking check failed)",
                                                                 "yellow")
    say(f"  {job_name} {ended} in {outcome.seconds:.1f}s")
    return outcome
