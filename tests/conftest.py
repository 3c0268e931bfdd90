import os
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder and warehouse that the project's settings point at."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("PROFILING_DATA_DIR", str(root))
    monkeypatch.setenv("PROFILING_WAREHOUSE", str(root / "warehouse" / "test.duckdb"))
    return root
