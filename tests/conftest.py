import os
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The partitions start where the tests' data does, whatever has landed in the checkout's data/.
os.environ.setdefault("PROFILING_START_DATE", "2026-10-01")
warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder and warehouse that the project's settings point at."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("PROFILING_DATA_DIR", str(root))
    monkeypatch.setenv("PROFILING_WAREHOUSE", str(root / "warehouse" / "test.duckdb"))
    return root


@pytest.fixture
def build_demo(data_dir: Path):
    """Generate demo days into the test data folder, load the snapshots and run ``selection``
    over the whole day range in one run. Returns (assets, resources, instance)."""
    from datetime import date, timedelta

    import dagster as dg

    from profiling_assets import cleaning, ingest, synthetic
    from profiling_assets.resources import pipeline_resources

    def build(*, users: int, products: int, days: int, seed: int = 5, extra_assets=(),
              selection=("raw_events", "cleaned_events")):
        start = date(2026, 10, 1)
        synthetic.generate(data_dir, users=users, products=products, days=days, start=start, seed=seed)
        # pointed at the test's folder explicitly, not through the environment
        resources = pipeline_resources(data_dir / "warehouse" / "test.duckdb", data_dir / "models")
        instance = dg.DagsterInstance.ephemeral()
        assets = [ingest.raw_users, ingest.raw_products, ingest.raw_events, cleaning.cleaned_events,
                  *extra_assets]
        assert dg.materialize(assets, selection=["raw_users", "raw_products"], resources=resources,
                              instance=instance).success
        last = start + timedelta(days=days - 1)
        assert dg.materialize(assets, selection=list(selection), resources=resources, instance=instance,
                              tags={"dagster/asset_partition_range_start": start.isoformat(),
                                    "dagster/asset_partition_range_end": last.isoformat()}).success
        return assets, resources, instance

    return build
