"""The package as a container image gets it: a wheel built from pyproject.toml, installed (not
editable) into a fresh virtual environment outside the repository, runs a daily partition.

The fresh environment borrows the project environment's dependencies through a .pth line (a
path listed there is searched, but its own .pth files, such as the editable install of this
checkout, are not processed), so only the wheel can provide ``profiling_assets``.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
DAY = "2026-10-01"

RUN_ONE_DAY = f"""
import dagster as dg
import profiling_assets
from profiling_assets.definitions import defs
print("package:", profiling_assets.__file__)
instance = dg.DagsterInstance.ephemeral()
for job in ("snapshots", "daily_ingest", "daily_profiles"):
    result = defs.get_job_def(job).execute_in_process(
        instance=instance, partition_key=None if job == "snapshots" else "{DAY}")
    assert result.success, job
"""


def uv() -> str:
    found = ROOT / ".tools" / "bin" / "uv"
    if found.exists():
        return str(found)
    path = shutil.which("uv")
    assert path, "uv is needed to install the wheel (make setup puts it in .tools/bin)"
    return path


def build_wheel(out: Path) -> Path:
    """Build from a copy holding only what the sdist would (no checkout around it)."""
    src = out / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("profiling_assets", "sql"):
        shutil.copytree(ROOT / folder, src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    build = f"from setuptools import build_meta as b; b.build_wheel({str(out)!r})"
    subprocess.run([sys.executable, "-c", build], cwd=src, check=True, capture_output=True)
    (wheel,) = out.glob("*.whl")
    return wheel


def test_wheel_installed_outside_the_repository_runs_a_day(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("profiling_assets/sql_files/")}
    assert {p.name for p in (ROOT / "sql").glob("*.sql")} <= shipped

    venv = tmp_path / "venv"
    subprocess.run([uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([uv(), "pip", "install", "--quiet", "--no-deps", "--python", str(python),
                    str(wheel)], check=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PROFILING_", "DAGSTER_", "PYTHON"))}
    env.update(PROFILING_DATA_DIR=str(work / "data"), PROFILING_START_DATE=DAY,
               DAGSTER_HOME=str(work / "dagster_home"), TF_CPP_MIN_LOG_LEVEL="3")
    (work / "dagster_home").mkdir()
    cli = venv / "bin" / "profiling-assets"
    subprocess.run([cli, "generate", "--users", "150", "--products", "60", "--days", "2",
                    "--start", DAY], cwd=work, env=env, check=True, capture_output=True)
    done = subprocess.run([python, "-c", RUN_ONE_DAY], cwd=work, env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"package: {site}/profiling_assets/__init__.py" in done.stdout

    with duckdb.connect(str(work / "data" / "warehouse" / "profiling.duckdb"),
                        read_only=True) as con:
        features = con.execute("SELECT count(*) FROM features.user_features "
                               "WHERE feature_date = ?", [DAY]).fetchone()[0]
        profiles = con.execute("SELECT count(*) FROM profiles.user_profiles").fetchone()[0]
    assert features > 0 and profiles == features
    query = subprocess.run([cli, "query", "SELECT count(*) AS n FROM user_profiles"], cwd=work,
                           env=env, capture_output=True, text=True, check=False)
    assert query.returncode == 0, query.stderr
    assert str(profiles) in query.stdout
