"""A year of order-line history from landing files to published profiles, models included,
timed as a user runs it: `profiling-assets run` in its own process on a fresh warehouse.

    .venv/bin/python bench/year.py                 # generate the `orders` year, run, time it
    .venv/bin/python bench/year.py --keep          # reuse the generated landing files
    .venv/bin/python bench/year.py --demo-scaling  # also: 14-day vs 90-day demo, s per day
    .venv/bin/python bench/year.py --ui-backfill   # also: a 14-day daily_assets backfill
                                                   #   launched through the daemon, as the UI does

Prints each job's and step's seconds as the command reports them, then one line per figure:
`year of order lines: <s> s (...)`, `demo s per day: ...`, `ui backfill: ...`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "profiling_assets.cli"]


def fresh_env(folder: Path, data: Path) -> dict[str, str]:
    """A fresh warehouse, published copy and Dagster instance under ``folder``."""
    for sub in ("warehouse", "published", "dagster_home"):
        shutil.rmtree(folder / sub, ignore_errors=True)
    shutil.rmtree(data / "models", ignore_errors=True)
    (folder / "dagster_home").mkdir(parents=True)
    shutil.copy(ROOT / "instance" / "dagster.yaml", folder / "dagster_home" / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROFILING_")}
    return env | {"PROFILING_DATA_DIR": str(data), "DAGSTER_HOME": str(folder / "dagster_home"),
                  "PROFILING_WAREHOUSE": str(folder / "warehouse" / "profiling.duckdb"),
                  "PROFILING_PUBLISHED": str(folder / "published" / "profiles.duckdb"),
                  "TF_CPP_MIN_LOG_LEVEL": "3"}


def timed_run(env: dict[str, str], *args: str, echo: bool = True) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GiB of the child, output) of one CLI command."""
    started = time.perf_counter()
    proc = subprocess.Popen([*CLI, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if echo and line.startswith(("  ", "Done")):
            print("   " + line.rstrip()[:150], flush=True)
    proc.wait()
    seconds = time.perf_counter() - started
    if proc.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{''.join(lines[-40:])}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return seconds, rss, "".join(lines)


def generate(data: Path, *args: str) -> dict:
    subprocess.run([*CLI, "generate", "--data-dir", str(data), *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return json.loads((data / "ground_truth" / "summary.json").read_text())


def year(folder: Path, keep: bool) -> None:
    data = folder / "orders"
    if not (keep and (data / "ground_truth" / "summary.json").exists()):
        shutil.rmtree(data, ignore_errors=True)
        print("generating a year of order lines (generate --profile orders) ...", flush=True)
        generate(data, "--profile", "orders")
    summary = json.loads((data / "ground_truth" / "summary.json").read_text())
    lines = sum(d["lines"] for d in summary["days"])
    trading = len(summary["days"])
    closed = len(summary.get("closed_days", []))
    env = fresh_env(folder, data)
    print(f"profiling-assets run: {trading} trading days, {closed} closed, {lines:,} lines", flush=True)
    seconds, rss, _ = timed_run(env, "run")
    print(f"year of order lines: {seconds:.0f} s ({lines:,} lines, {trading} trading + {closed} "
          f"closed days, models included, peak RSS {rss:.2f} GiB; goal <= 300 s)", flush=True)


def demo_scaling(folder: Path) -> None:
    per_day = {}
    for days in (14, 90):
        data = folder / f"demo{days}"
        shutil.rmtree(data, ignore_errors=True)
        # days that have ended: the last one is yesterday at the latest
        start = date.today() - timedelta(days=days + 1)
        generate(data, "--days", str(days), "--start", start.isoformat())
        env = fresh_env(folder / f"demo{days}-run", data)
        print(f"demo, {days} days: profiling-assets run", flush=True)
        seconds, _, _ = timed_run(env, "run", echo=False)
        per_day[days] = seconds / days
        print(f"   {seconds:.0f} s, {per_day[days]:.1f} s per day of data", flush=True)
    print(f"demo s per day: 14 days {per_day[14]:.1f}, 90 days {per_day[90]:.1f}, ratio "
          f"{per_day[90] / per_day[14]:.2f} (goal <= 3)", flush=True)


def ui_backfill(folder: Path) -> None:
    """A daily_assets backfill submitted to the instance and executed by the daemon, the way
    the UI's backfill is, on demo days whose models were trained by `run` first."""
    data = folder / "backfill14"
    if not (data / "ground_truth" / "summary.json").exists():
        generate(data, "--days", "14", "--start", "2026-10-01")
    env = fresh_env(folder / "backfill-run", data)
    env["DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"] = "true"
    print("training on the demo days first (profiling-assets run) ...", flush=True)
    timed_run(env, "run", echo=False)
    daemon = subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run",
                               "-w", str(ROOT / "workspace.yaml")], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "dagster"), "job", "backfill",
                        "-w", str(ROOT / "workspace.yaml"), "-j", "daily_assets",
                        "--from", "2026-10-01", "--to", "2026-10-14", "--noprompt"],
                       env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        status = wait_for_backfill(env)
        seconds = time.perf_counter() - started
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
    print(f"ui backfill: 14 days of daily_assets through the daemon in {seconds:.0f} s "
          f"({seconds / 14:.1f} s per day; {status})", flush=True)


def wait_for_backfill(env: dict[str, str], timeout: float = 1800) -> str:
    probe = ("import dagster as dg, json\n"
             "i = dg.DagsterInstance.get()\n"
             "b = i.get_backfills()\n"
             "runs = i.get_runs()\n"
             "print(json.dumps({'backfill': [x.status.value for x in b],\n"
             "                  'runs': [r.status.value for r in runs if r.job_name == 'daily_assets']}))\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, check=False,
                             text=True).stdout.strip().splitlines()
        state = json.loads(out[-1]) if out else {"backfill": [], "runs": []}
        done = state["backfill"] and all(s != "REQUESTED" for s in state["backfill"])
        finished = [r for r in state["runs"] if r in ("SUCCESS", "FAILURE", "CANCELED")]
        if done and len(finished) == len(state["runs"]):
            return f"{len(state['runs'])} runs: {', '.join(sorted(set(finished)))}"
        time.sleep(3)
    return "timed out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "profiling-bench-year")
    parser.add_argument("--keep", action="store_true", help="reuse the generated year")
    parser.add_argument("--demo-scaling", action="store_true")
    parser.add_argument("--ui-backfill", action="store_true")
    parser.add_argument("--no-year", action="store_true", help="skip the year itself")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    if not args.no_year:
        year(args.folder, args.keep)
    if args.demo_scaling:
        demo_scaling(args.folder)
    if args.ui_backfill:
        ui_backfill(args.folder)


if __name__ == "__main__":
    main()
