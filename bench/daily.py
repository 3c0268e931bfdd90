"""Daily-chain benchmark: one day of every daily asset, landing files to the published
profiles, after a short history with the models trained on it (goal: <= 90 s at 1M events a
day with a warm text cache, <= 600 s at 10M, peak RSS <= 4 GiB).

    .venv/bin/python bench/daily.py [--days 7] [--events 1000000] [--users 100000] [--products 20000] [--keep DIR]
    .venv/bin/python bench/daily.py --keep DIR --reuse-setup   # time the last day again, no setup

Generates N demo days of M events (child process: its memory is not counted), loads the user
and product snapshots, ingests the first N-1 days up to user_features in one ranged run, fits
text_encoder, svd_model, segment_model and propensity_model once on them (a model the short
history cannot train, or that its blocking check does not promote, is reported with its
reason) and builds their daily outputs and profiles for those days, as `profiling-assets run`
does. Then it materializes each daily asset of the last day on its own, in dependency order,
and prints per asset the wall seconds of the materialize call (what the chain costs), the
seconds of the step itself (the rest is Dagster's run bookkeeping), its rows and its peak RSS.
text_embeddings runs twice for the last day: cold (its texts not yet embedded by the model
version, beyond those the earlier days cached) and warm (every text cached); the chain total
uses the warm figure, the cold total is printed too. The analysts' copy is published inside
user_profiles; its seconds are shown apart. Peak RSS is the kernel's high-water mark of this
process (VmHWM, reset through /proc/self/clear_refs before each timed asset), so it covers
only the timed chain, not the setup; where that reset is refused a psutil sampling thread
(every 20 ms) stands in.

Runs go to a Dagster instance (SQLite, the project's dagster.yaml) in a fresh DAGSTER_HOME,
with a fresh warehouse, models folder and published copy under DIR/bench-daily. The setup
takes about 40 minutes at 1M events a day on 2 cores; ``--reuse-setup`` keeps what an earlier
run of the same data left there and times the last day again (after a code change, say), with
the text cache warm only.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = date(2026, 10, 1)  # a fixed past day: every generated day is an ended partition
SNAPSHOTS = ["raw_users", "raw_products"]
INGEST = ["raw_events", "cleaned_events", "user_daily_activity", "user_features"]
OUTPUTS = ["text_embeddings", "user_text_profile", "user_factors", "recommendations"]
PROFILES = ["user_segments", "user_scores", "user_profiles"]
CHAIN = INGEST + OUTPUTS + PROFILES


class PeakRss:
    """Peak resident memory of this process between start() and stop(), in GiB."""

    def __init__(self) -> None:
        self._thread = None
        self._peak = 0

    @staticmethod
    def _status(field: str) -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))

    def start(self) -> None:
        try:  # "5" resets the kernel's peak RSS of this process (Linux >= 4.0)
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.method = "VmHWM"
            return
        except OSError:
            pass
        import psutil

        self.method, self._peak, self._stop = "psutil sampling", 0, threading.Event()
        proc = psutil.Process()

        def sample() -> None:
            while not self._stop.wait(0.02):
                self._peak = max(self._peak, proc.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        if self._thread is None:
            return self._status("VmHWM:") / 2**30
        self._stop.set()
        self._thread.join()
        self._thread = None
        return max(self._peak, self._status("VmRSS:")) / 2**30


def generate(root: Path, args: argparse.Namespace) -> list[dict]:
    """The generated days (from the generator's summary), generating them in a child process
    unless ``root`` already holds this very data set."""
    summary = root / "ground_truth" / "summary.json"
    wanted = {"users": args.users, "products": args.products, "days": args.days,
              "start": START.isoformat(), "events_per_day": args.events}
    if summary.exists():
        params = json.loads(summary.read_text())["params"]
        if {k: params.get(k) for k in wanted} != wanted:
            sys.exit(f"{root} holds other data ({params}); give another --keep folder")
        print(f"reusing the data in {root}")
    else:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "profiling_assets.cli", "generate", "--data-dir",
                        str(root), "--users", str(args.users), "--products", str(args.products),
                        "--days", str(args.days), "--start", START.isoformat(),
                        "--events-per-day", str(args.events)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        print(f"generated {args.days} days in {time.perf_counter() - started:.0f}s into {root}")
    return json.loads(summary.read_text())["days"]


def point_at(root: Path, fresh: bool) -> Path:
    """Warehouse, models, published copy and Dagster instance (``fresh``: new ones); set before
    the package is imported (settings and partitions read them at import)."""
    work = root / "bench-daily"
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
        (work / "dagster_home").mkdir(parents=True)
        shutil.copy(ROOT / "instance" / "dagster.yaml", work / "dagster_home" / "dagster.yaml")
    os.environ.update({
        "PROFILING_DATA_DIR": str(root), "PROFILING_START_DATE": START.isoformat(),
        "PROFILING_WAREHOUSE": str(work / "warehouse" / "profiling.duckdb"),
        "PROFILING_MODELS_DIR": str(work / "models"),
        "PROFILING_PUBLISHED": str(work / "published" / "profiles.duckdb"),
        "DAGSTER_HOME": str(work / "dagster_home"), "TF_CPP_MIN_LOG_LEVEL": "3"})
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--events", type=int, default=1_000_000, help="events per day")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, help="reuse/keep the generated data in this folder")
    parser.add_argument("--reuse-setup", action="store_true",
                        help="with --keep: time the last day again on the warehouse and models "
                             "an earlier run of the same data set up (no cold text figure: the "
                             "day's texts are cached by then)")
    args = parser.parse_args()
    if args.days < 2:
        parser.error("--days must be at least 2: a history and the timed day")
    if args.reuse_setup and not args.keep:
        parser.error("--reuse-setup needs --keep: the folder of an earlier run")

    root = (args.keep or Path(tempfile.mkdtemp(prefix="bench-daily-"))).resolve()
    generated = generate(root, args)
    marker = root / "bench-daily" / "setup.json"
    if args.reuse_setup and not marker.exists():
        sys.exit(f"--reuse-setup: {root} holds no finished setup ({marker} is missing); "
                 "run once without it")
    work = point_at(root, fresh=not args.reuse_setup)

    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from dagster._core.events import DagsterEventType

    from profiling_assets import profiles, runs
    from profiling_assets.definitions import defs

    days = [(START + timedelta(days=i)).isoformat() for i in range(args.days)]
    history, last = days[:-1], days[-1]
    lines = next(d["lines"] for d in generated if d["date"] == last)
    assets = list(defs.assets)
    instance = runs.instance()  # DAGSTER_HOME's SQLite instance, as the CLI's runs use

    def materialize(names, first=None, end=None):
        """(wall seconds, step seconds, result) of one run of ``names``: one day, a range of
        days (the assets loop over it, as the CLI's ranged runs do) or no partition."""
        ranged = end is not None and end != first
        tags = runs.partition_tags(first, end) if ranged else {}
        started = time.perf_counter()
        result = dg.materialize(assets, selection=names, resources=defs.resources,
                                instance=instance, run_config=runs.QUIET_LOGS, tags=tags,
                                partition_key=None if ranged else first, raise_on_error=False)
        wall = time.perf_counter() - started
        stamps = {}
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is not None and event.event_type in (DagsterEventType.STEP_START,
                                                          DagsterEventType.STEP_SUCCESS,
                                                          DagsterEventType.STEP_FAILURE):
                stamps.setdefault(event.event_type, entry.timestamp)
        step = (stamps.get(DagsterEventType.STEP_SUCCESS, stamps.get(DagsterEventType.STEP_FAILURE, 0))
                - stamps.get(DagsterEventType.STEP_START, 0))
        return wall, step, result

    def failures(result) -> list[str]:
        out = []
        for event in result.all_events:
            if event.event_type == DagsterEventType.STEP_FAILURE:
                error = event.event_specific_data.error
                while error is not None and error.cause is not None:  # the asset's own error
                    error = error.cause
                out.append(f"{event.step_key}: {error.cls_name}: {error.message.strip()[:300]}"
                           if error else f"{event.step_key}: unknown error")
        return out

    def metadata(result, name) -> dict:
        mats = result.asset_materializations_for_node(name)
        return {k: v.value for k, v in mats[-1].metadata.items()} if mats else {}

    def setup(label, names, first=None, end=None) -> None:
        wall, _, result = materialize(names, first, end)
        problems = failures(result)
        skipped = [f"{n}: skipped: {metadata(result, n)['skipped']}" for n in names
                   if "skipped" in metadata(result, n)]
        print(f"  {label}: {wall:.1f}s" + "".join(f"\n    {s}" for s in skipped + problems), flush=True)
        if problems:
            sys.exit(f"setup failed at {label}: the timed day would lack its inputs")

    def train(model: str) -> str:
        """Fit one model; its outcome in words (a refusal or an unpromoted version is an
        outcome, not a crash: its daily outputs then say skipped)."""
        wall, _, result = materialize([model])
        problems = failures(result)
        meta = metadata(result, model)
        blocked = [e.check_name for e in result.get_asset_check_evaluations()
                   if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
        if problems:
            outcome = "failed: " + "; ".join(problems)
        elif "skipped" in meta:
            outcome = f"skipped: {meta['skipped']}"
        elif blocked:
            outcome = f"trained, not promoted (blocking check failed: {', '.join(blocked)})"
        else:
            outcome = "trained and promoted"
        print(f"  {model}: {wall:.1f}s: {outcome}", flush=True)
        return outcome

    print(f"history {history[0]}..{history[-1]} ({len(history)} days), timed day {last} "
          f"({lines:,} lines); warehouse and instance in {work}", flush=True)
    if args.reuse_setup:
        models = json.loads(marker.read_text())["models"]
        print(f"setup reused from {marker} (models: "
              + "; ".join(f"{m} {o[:60]}" for m, o in models.items()) + ")", flush=True)
    else:
        started = time.perf_counter()
        setup("snapshots (raw_users, raw_products)", SNAPSHOTS)
        setup(f"daily ingest {history[0]}..{history[-1]}", INGEST, history[0], history[-1])
        models = {m: train(m) for m in ("text_encoder", "svd_model")}
        setup(f"daily model outputs {history[0]}..{history[-1]}", OUTPUTS, history[0], history[-1])
        models |= {m: train(m) for m in ("segment_model", "propensity_model")}
        setup(f"daily profiles {history[0]}..{history[-1]}", PROFILES, history[0], history[-1])
        print(f"setup (not timed below): {time.perf_counter() - started:.0f}s", flush=True)
        marker.write_text(json.dumps({"models": models}, indent=1))

    # The analysts' copy is written inside user_profiles: time that call where the asset
    # looks it up (a module global), without changing what it does.
    published = []
    real_publish = profiles.publish

    def timed_publish(*a, **kw):
        t = time.perf_counter()
        try:
            return real_publish(*a, **kw)
        finally:
            published.append(time.perf_counter() - t)

    profiles.publish = timed_publish

    rss = PeakRss()
    timings = {}  # name -> (wall, step, rows, peak GiB, note)
    failed = []
    baseline = PeakRss._status("VmRSS:") / 2**30
    print(f"\nlast day {last}, each asset its own run (RSS before, what the setup left in this "
          f"process: {baseline:.2f} GiB):", flush=True)
    print(f"  {'asset':<26} {'wall s':>7} {'step s':>7} {'rows':>11} {'peak GiB':>9}  note")
    texts = ["text_embeddings (warm)"] if args.reuse_setup else ["text_embeddings", "text_embeddings (warm)"]
    for name in CHAIN[:4] + texts + CHAIN[5:]:
        rss.start()
        wall, step, result = materialize([name.split()[0]], last)
        peak = rss.stop()
        meta = metadata(result, name.split()[0])
        rows = meta.get("dagster/row_count")
        notes = failures(result)
        failed += notes
        if "skipped" in meta:
            notes.append(f"skipped: {meta['skipped']}")
        if isinstance(meta.get("not_scored"), dict):  # user_scores writes NULLs with a reason
            notes.append(f"NULL scores, no production model for {', '.join(meta['not_scored'])}")
        if name.startswith("text_embeddings"):
            notes.append(f"{meta.get('texts_encoded', 0):,} encoded, {meta.get('cache_hits', 0):,} "
                         f"cached, {meta.get('texts_per_second', 0)} texts/s")
        if name == "user_profiles" and published:
            notes.append(f"of which publish {published[-1]:.2f}s")
        count = "" if rows is None else f"{rows:,}"
        timings[name] = (wall, step, peak)
        print(f"  {name:<26} {wall:7.2f} {step:7.2f} {count:>11} {peak:9.2f}  {'; '.join(notes)}",
              flush=True)

    # The schedule builds the day as one run of all eleven assets: Dagster's per-run cost is
    # paid once there, not per asset (a re-run of the day, every text cached).
    one_run, _, result = materialize(CHAIN, last)
    one_run = f"{one_run:.1f} s" + (f" (failed: {'; '.join(failures(result))})"
                                     if failures(result) else "")

    warm = sum(w for n, (w, _, _) in timings.items() if n != "text_embeddings")
    steps = sum(s for n, (_, s, _) in timings.items() if n != "text_embeddings")
    peak = max(p for _, _, p in timings.values())
    if "text_embeddings" in timings:
        cold = f"{sum(w for n, (w, _, _) in timings.items() if n != 'text_embeddings (warm)'):.1f} s"
        print(f"text_embeddings cold {timings['text_embeddings'][0]:.2f}s, warm "
              f"{timings['text_embeddings (warm)'][0]:.2f}s")
    else:
        cold = "not measured (setup reused)"
    print("\nmodels: " + "; ".join(f"{m} {o[:90]}" for m, o in models.items()))
    print(f"chain total, cold text cache: {cold}; warm: {warm:.1f} s (of which steps "
          f"{steps:.1f} s, Dagster run bookkeeping {warm - steps:.1f} s); peak RSS {peak:.2f} GiB "
          f"({rss.method}); cores: {os.cpu_count()}")
    print(f"the same day as one run of all {len(CHAIN)} assets (warm cache): {one_run}")
    if failed:
        print("FAILED: " + "; ".join(failed))
    print("goals: <= 90 s at 1M events/day (warm cache), <= 600 s at 10M/day, peak RSS <= 4 GiB")
    print(f"daily chain total: {warm:.1f} s (events {lines:,}, peak RSS {peak:.2f} GiB)")
    instance.dispose()
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
