"""The text encoder: equality with the reference embeddings, awkward texts, a tiny fine-tune
that writes a loadable artifact, and the daily cache and interest vectors on demo days."""

import json
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from profiling_assets import registry, synthetic
from profiling_assets.encoder import TextEncoder, base_model_path, normalize_text
from profiling_assets.text_training import FineTuner, prepare_examples

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text())


@pytest.fixture(scope="module")
def base_encoder() -> TextEncoder:
    return TextEncoder()


def test_base_embeddings_equal_the_reference(base_encoder):
    ours = base_encoder.encode(REFERENCE["texts"])
    ref = np.array(REFERENCE["embeddings"], dtype=np.float32)
    cosine = (ours * ref).sum(1) / np.linalg.norm(ref, axis=1)
    assert cosine.min() >= 0.999, dict(zip(REFERENCE["texts"], cosine.round(5), strict=True))


def test_awkward_texts_give_unit_vectors_in_input_order(base_encoder):
    long_text = "great product " * 400
    texts = ["", "蓝牙耳机 降噪", "🔥🔥🔥", "a\x00b\x07c\u200b", long_text, "zapatillas de running"]
    vectors = base_encoder.encode(texts)
    assert vectors.shape == (len(texts), 384) and np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert max(len(t) for t in base_encoder.tokenize(texts)) == base_encoder.max_length == 256
    # order is kept although texts are batched by length
    again = base_encoder.encode(texts[::-1])
    assert np.allclose(again[::-1], vectors, atol=1e-5)
    assert normalize_text("  tab\tand\nnewline\x00 ") == "tab and newline"
    assert normalize_text(None) == ""


def test_tiny_fine_tune_lowers_the_loss_and_saves_a_loadable_encoder(tmp_path):
    rows = pd.DataFrame({
        "task": ["category"] * 40 + ["rating_band"] * 20,
        "source": ["query"] * 40 + ["review"] * 20,
        "text": [f"{a} {n}" for a in ("red", "cheap", "new", "best", "small") for n in
                 ("headphones", "speaker", "charger", "keyboard")]
                + [f"{a} {n}" for a in ("red", "cheap", "new", "best", "small") for n in
                   ("novel", "cookbook", "atlas", "thriller")]
                + [f"{w} product, {x}" for w in ("Terrible", "Awful") for x in "abcde"]
                + [f"{w} product, {x}" for w in ("Love this", "Excellent") for x in "abcde"],
        "label": ["electronics"] * 20 + ["books"] * 20 + ["negative"] * 10 + ["positive"] * 10,
        "seen": 1,
    })
    ex = prepare_examples(rows, sample_cap=1000, eval_share=0.25, seed=0)
    assert set(ex.train["text"]).isdisjoint(ex.test["text"])
    tuner = FineTuner(base_model_path(), ex.labels, max_length=16, learning_rate=1e-4, seed=0)
    fit = tuner.fit(ex.train, epochs=4, batch_size=16, seed=0)
    assert fit.last_steps_loss < fit.first_steps_loss
    assert tuner.evaluate(ex)["category"]["accuracy"] >= 0.8

    folder = tmp_path / "encoder"
    folder.mkdir()
    assert tuner.save(folder) == 103
    assert {p.name for p in folder.iterdir()} >= {"model.safetensors", "tokenizer.json",
                                                 "config.json", "vocab.txt", "heads.npz", "labels.json"}
    loaded = TextEncoder(folder)
    texts = ex.test["text"].tolist()
    pooled = tuner._pooled(*[tuner.tf.constant(a) for a in tuner._batch(texts)], False).numpy()
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    assert np.allclose(loaded.encode(texts), pooled, atol=1e-4)
    # fine-tuning moved the weights: the saved encoder is not the base one
    assert not np.allclose(loaded.encode(texts), TextEncoder().encode(texts), atol=1e-3)


def test_pytorch_backend_reads_the_same_weights(base_encoder):
    pytest.importorskip("torch")
    torch_encoder = TextEncoder(backend="pytorch")
    texts = REFERENCE["texts"]
    assert np.allclose(torch_encoder.encode(texts), base_encoder.encode(texts), atol=1e-4)


# --------------------------------------------------------------------------- daily assets

@pytest.fixture
def demo_warehouse(build_demo):
    assets, resources, instance = build_demo(users=200, products=48, days=2)
    return assets, resources, instance


def test_encoder_version_then_cached_daily_embeddings_and_interests(data_dir, demo_warehouse):
    from profiling_assets import text

    upstream, resources, instance = demo_warehouse
    assets = [*upstream, text.text_encoder, text.text_embeddings, text.user_text_profile]
    # A few steps cannot beat the frozen model: the version is recorded but stays a candidate,
    # and the blocking check fails the run.
    result = dg.materialize(assets, selection=["text_encoder"], resources=resources, instance=instance,
                            run_config={"ops": {"text_encoder": {"config": {
                                "max_steps": 2, "sample_cap": 96, "batch_size": 16}}}},
                            raise_on_error=False)
    meta = result.asset_materializations_for_node("text_encoder")[0].metadata
    assert {"macro_f1", "frozen_macro_f1", "gain_macro_f1", "evaluation", "device"} <= meta.keys()
    assert meta["device"].value == "CPU"
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    warehouse = str(data_dir / "warehouse" / "test.duckdb")
    with duckdb.connect(warehouse) as con:
        (version,) = registry.versions(con, "text_encoder")
        assert version.status == (registry.PRODUCTION if checks["not_worse_than_frozen"]
                                  else registry.CANDIDATE)
        assert version.metrics["frozen_macro_f1"] == meta["frozen_macro_f1"].value
        registry.promote(con, "text_encoder", version.version, "test")

    def run(day: str) -> dict:
        r = dg.materialize(assets, selection=["text_embeddings", "user_text_profile"],
                           partition_key=day, resources=resources, instance=instance)
        return {k: v.value for k, v in r.asset_materializations_for_node("text_embeddings")[0]
                .metadata.items()}

    first = run("2026-10-01")
    assert first["texts_encoded"] == first["texts_seen"] > 0 and first["cache_hits"] == 0
    assert first["model_version"] == version.version
    again = run("2026-10-01")  # a re-run encodes nothing and replaces the day's occurrences
    assert again["texts_encoded"] == 0 and again["cache_hits"] == first["texts_seen"]
    assert again["dagster/row_count"] == first["dagster/row_count"]
    second = run("2026-10-02")
    assert second["cache_hits"] > 0  # product texts seen on day 1 come from the cache

    with duckdb.connect(warehouse, read_only=True) as con:
        encoded = con.execute("SELECT count(*), count(DISTINCT text_hash) FROM ml.text_embeddings").fetchone()
        assert encoded[0] == encoded[1] == first["texts_seen"] + second["texts_encoded"]
        occurrences = con.execute("SELECT count(*) FROM ml.text_occurrences WHERE event_date = '2026-10-01'").fetchone()[0]
        assert occurrences == first["dagster/row_count"]
        rows = con.execute("SELECT user_id, interest, top_interests, texts, model_version "
                           "FROM ml.user_text_profile WHERE profile_date = '2026-10-02'").fetchall()
        searchers = con.execute("SELECT count(DISTINCT user_id) FROM clean.events WHERE event_date "
                                "<= '2026-10-02' AND event_type IN ('search', 'view', 'review')").fetchone()[0]
    assert len(rows) == searchers
    categories = set(synthetic.CATEGORIES)
    for _user, interest, top, texts, used in rows:
        assert abs(np.linalg.norm(interest) - 1) < 1e-4 and texts > 0 and used == version.version
        assert len(top) == 3 and set(top) <= categories


def test_daily_embeddings_use_the_base_model_until_a_version_is_promoted(data_dir):
    from profiling_assets import text
    from profiling_assets.resources import prepare_connection

    with duckdb.connect(str(data_dir / "w.duckdb")) as con:
        prepare_connection(con)
        assert text.encoder_in_use(con) == (text.BASE_VERSION, None)
        path = registry.write_artifact("text_encoder", "v1", lambda d: None)
        registry.register(con, "text_encoder", "v1", artifact_path=path, metrics={}, config={})
        assert text.encoder_in_use(con) == (text.BASE_VERSION, None)  # a candidate is not used
        registry.promote(con, "text_encoder", "v1", "test")
        assert text.encoder_in_use(con) == ("v1", path)
