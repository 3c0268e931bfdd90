"""The text encoder: equality with the reference embeddings, awkward texts, a tiny fine-tune
that writes a loadable artifact, the self-supervised pair fine-tune, one max_length end to end,
fair baselines and sample allocation, an order export without labels, the daily cache and
interest vectors on demo days, and the daily fast paths against their plain recipes."""

import json
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from images import assert_floats, assert_pictures

from profiling_assets import registry, synthetic
from profiling_assets.encoder import TextEncoder, base_model_path, normalize_text
from profiling_assets.text_training import (
    FineTuner,
    linear_probe,
    pair_retrieval,
    prepare_examples,
    scores,
)

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
    assert {"macro_f1", "frozen_macro_f1", "score", "frozen_score", "gain", "evaluation",
            "device", "max_length"} <= meta.keys()
    assert meta["device"].value == "CPU"
    # pictures: the loss of every step, and per classification task the confusion matrix of
    # the held-out predictions its macro-F1 is computed on; the figures as plain floats
    classification = [t for t in meta["tasks"].value.split(", ") if t != "pairs"]
    assert classification
    assert_pictures(meta, "loss_plot", *(f"{t}_confusion_plot" for t in classification))
    assert_floats(meta, "loss_first_steps", "loss_last_steps", "macro_f1",
                  *(f"{t}_{k}" for t in classification for k in ("macro_f1", "accuracy")))
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks.keys() == {"beats_frozen", "not_worse_than_production", "fine_tune_gain"}
    warehouse = str(data_dir / "warehouse" / "test.duckdb")
    max_length = meta["max_length"].value
    with duckdb.connect(warehouse) as con:
        (version,) = registry.versions(con, "text_encoder")
        assert version.status == (registry.PRODUCTION if checks["beats_frozen"]
                                  and checks["not_worse_than_production"] else registry.CANDIDATE)
        assert version.metrics["frozen_macro_f1"] == meta["frozen_macro_f1"].value
        # one max_length: chosen from the training texts, recorded, saved in the model's config
        # (what the daily TextEncoder reads) and used by the evaluation of the saved folder
        assert 32 <= max_length <= 256 and max_length % 32 == 0
        assert version.metrics["max_length"] == version.config["max_length"] == max_length
        saved = json.loads((version.artifact_path / "sentence_bert_config.json").read_text())
        assert saved["max_seq_length"] == meta["saved_max_length"].value == max_length
        registry.promote(con, "text_encoder", version.version, "test")

    def run(day: str) -> dict:
        r = dg.materialize(assets, selection=["text_embeddings", "user_text_profile"],
                           partition_key=day, resources=resources, instance=instance)
        profile = r.asset_materializations_for_node("user_text_profile")[0].metadata
        assert profile["interest_source"].value == "categories"  # the catalogue has categories
        return {k: v.value for k, v in r.asset_materializations_for_node("text_embeddings")[0]
                .metadata.items()}

    first = run("2026-10-01")
    assert first["texts_encoded"] == first["texts_seen"] > 0 and first["cache_hits"] == 0
    assert first["model_version"] == version.version and first["max_length"] == max_length
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
        longest = con.execute("SELECT max(tokens) FROM ml.text_embeddings").fetchone()[0]
        assert longest <= max_length
        rows = con.execute("SELECT user_id, interest, top_interests, texts, model_version "
                           "FROM ml.user_text_profile WHERE profile_date = '2026-10-02'").fetchall()
        searchers = con.execute("SELECT count(DISTINCT user_id) FROM clean.events WHERE event_date "
                                "<= '2026-10-02' AND event_type IN ('search', 'view', 'review')").fetchone()[0]
    assert len(rows) == searchers
    categories = set(synthetic.CATEGORIES)
    for _user, interest, top, texts, used in rows:
        assert abs(np.linalg.norm(interest) - 1) < 1e-4 and texts > 0 and used == version.version
        assert len(top) == 3 and set(top) <= categories

    # a window too large for one read is read in passes over groups of users: same profiles
    query = ("SELECT user_id, texts, queries, reviews, products, last_text_date, top_interests, "
             "interest, top_interest_scores FROM ml.user_text_profile "
             "WHERE profile_date = '2026-10-02' ORDER BY user_id")
    with duckdb.connect(warehouse) as con:
        one = con.execute(query).fetchall()
        (window,) = con.execute("SELECT count(*) FROM ml.text_occurrences").fetchone()
        out = text.build_user_text_profile(con, "2026-10-02", version.version,
                                           text.UserTextProfileConfig(rows_per_pass=-(-window // 4)))
        passes = con.execute(query).fetchall()
    assert out["passes"] == 4 and out["users"] == len(one)
    assert [r[:7] for r in passes] == [r[:7] for r in one]
    for a, b in zip(passes, one, strict=True):
        assert np.allclose(a[7], b[7], atol=1e-6) and np.allclose(a[8], b[8], atol=1e-4)


def test_daily_embeddings_use_the_base_model_until_a_version_is_promoted(data_dir):
    from profiling_assets import text
    from profiling_assets.resources import prepare_connection

    with duckdb.connect(str(data_dir / "w.duckdb")) as con:
        prepare_connection(con)
        assert text.encoder_in_use(con) == (text.BASE_VERSION, None)
        path = registry.write_artifact(data_dir / "models", "text_encoder", "v1", lambda d: None)
        registry.register(con, "text_encoder", "v1", artifact_path=path, metrics={}, config={})
        assert text.encoder_in_use(con) == (text.BASE_VERSION, None)  # a candidate is not used
        registry.promote(con, "text_encoder", "v1", "test")
        assert text.encoder_in_use(con) == ("v1", path)


# --------------------------------------------------------------------------- fair evaluation

def test_sample_cap_gives_every_task_and_label_a_floor_and_max_length_follows_the_texts():
    from profiling_assets.text_training import choose_max_length

    big = [("category", f"gadget number {i}", "electronics" if i % 10 else "books") for i in range(900)]
    small = [("rating_band", f"review {i}", "positive" if i >= 12 else "negative") for i in range(120)]
    rows = pd.DataFrame(big + small, columns=["task", "text", "label"]).assign(source="x", seen=1)
    ex = prepare_examples(rows, sample_cap=200, eval_share=0.2, seed=0)
    per = ex.train.groupby(["task", "label"]).size().to_dict()
    # not proportional to task size: equal shares (100 each); the small task keeps all its 97
    # training texts and passes the rest on; half of each share is spread evenly over labels,
    # so the rare labels are not starved
    assert ex.budgets == {"category": 103, "rating_band": 97}
    assert per[("rating_band", "negative")] >= 10 and per[("category", "books")] >= 25
    assert len(ex.train) <= 200
    # 95th percentile of token lengths, rounded up to a multiple of 32, within 32..256
    assert choose_max_length(np.array([10] * 90 + [70] * 10)) == 96
    assert choose_max_length(np.array([5, 6, 7])) == 32
    assert choose_max_length(np.array([900] * 10)) == 256


def test_class_balanced_baseline_does_not_collapse_to_the_majority_class():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(580, int), np.ones(20, int)]          # 3% minority, overlapping classes
    x = rng.normal(size=(600, 4))
    x[:, 0] += y * 1.2
    tr, te = np.arange(600) % 3 != 0, np.arange(600) % 3 == 0
    plain = LogisticRegression(max_iter=2000).fit(x[tr], y[tr]).predict(x[te])
    balanced = linear_probe(x[tr], y[tr], x[te])
    assert (plain == 0).all()          # the plain baseline collapses to the majority class
    assert balanced.sum() > 0 and (balanced[y[te] == 1] == 1).mean() >= 0.5
    assert scores(y[te], balanced)["macro_f1"] > scores(y[te], plain)["macro_f1"]


# --------------------------------------------------------------------------- pairs

GROUPS = [["garden hose", "jazz vinyl record", "baby socks", "motor oil"],
          ["office chair", "chili sauce", "tennis racket", "violin strings"],
          ["dog leash", "wedding card", "laptop sleeve", "olive oil"],
          ["rain boots", "chess set", "face cream", "drill bits"],
          ["coffee beans", "yoga mat", "phone charger", "picture frame"],
          ["tea kettle", "soccer ball", "lipstick", "guitar picks"],
          ["bike helmet", "cookbook", "scented candle", "usb cable"],
          ["sun hat", "board game", "cat food", "paint brushes"]]


def test_pair_fine_tune_lowers_its_loss_improves_retrieval_and_keeps_one_max_length(tmp_path):
    import itertools

    # Products bought together in fixed, unrelated groups: the frozen model cannot know them;
    # held out: each group's last two pairs, first seen on the last day (a time split).
    pairs = pd.DataFrame([
        {"kind": "basket", "text_a": a, "text_b": b, "seen": 1,
         "first_day": "2026-10-02" if i >= 4 else "2026-10-01"}
        for group in GROUPS for i, (a, b) in enumerate(itertools.combinations(group, 2))])
    no_labels = pd.DataFrame(columns=["task", "source", "text", "label", "seen"])
    ex = prepare_examples(no_labels, sample_cap=1000, eval_share=0.2, seed=0, pairs=pairs, min_pairs=8)
    assert ex.tasks() == ["pairs"] and len(ex.pairs_test) == 2 * len(GROUPS)
    assert ex.pair_split.startswith("time")
    frozen = pair_retrieval(TextEncoder(max_length=16).encode, ex.pairs_test)

    tuner = FineTuner(base_model_path(), {}, max_length=16, learning_rate=1e-4, seed=0)
    fit = tuner.fit(ex.train, pairs=ex.pairs_train, epochs=6, batch_size=16, seed=0)
    assert fit.pair_steps == fit.steps == 12
    assert fit.pair_last_loss < fit.pair_first_loss
    # the loss of every step, numbered in training order, for the loss picture
    steps, losses = fit.loss_curves()["pairs (contrastive)"]
    assert steps == list(range(1, 13))
    assert np.mean(losses[-4:]) == pytest.approx(fit.pair_last_loss)  # the last third
    tuned = pair_retrieval(tuner.vectors, ex.pairs_test)
    assert tuned["score"] > frozen["score"] + 0.25, (frozen, tuned)   # mean recall@1/5/10
    assert tuned["recall_at_5"] > frozen["recall_at_5"] + 0.3

    # the saved config carries the training length; the daily encoder reads it and truncates
    # there, and gives the vectors the evaluation scored
    folder = tmp_path / "encoder"
    folder.mkdir()
    tuner.save(folder)
    assert json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"] == 16
    daily = TextEncoder(folder)
    assert daily.max_length == 16 and len(daily.tokenize(["word " * 50])[0]) == 16
    texts = sorted(set(ex.pairs_test["text_a"]) | set(ex.pairs_test["text_b"]))
    assert np.allclose(daily.encode(texts), tuner.vectors(texts), atol=1e-4)
    assert pair_retrieval(daily.encode, ex.pairs_test)["recall_at_1"] == tuned["recall_at_1"]


def test_cluster_names_are_the_words_most_distinctive_of_each_cluster():
    from profiling_assets.text import cluster_count, cluster_names

    titles = ["RED APPLE JAM", "GREEN APPLE JAM", "APPLE PIE TIN", "CLAW HAMMER", "STEEL HAMMER SET",
              "RED HAMMER"]
    names = cluster_names(titles, np.array([0, 0, 0, 1, 1, 1]), 2)
    assert names[0].startswith("apple / jam") and names[1].startswith("hammer")
    assert [cluster_count(n) for n in (1, 5, 200, 3500, 100_000)] == [1, 2, 10, 30, 30]


def test_order_log_without_labels_says_why_it_cannot_fine_tune_and_gets_interest_keywords(data_dir):
    from datetime import date

    from profiling_assets import cleaning, ingest, text
    from profiling_assets.resources import pipeline_resources

    synthetic.generate_orders(data_dir, users=80, products=60, days=4, start=date(2026, 10, 1), seed=2)
    resources = pipeline_resources()
    instance = dg.DagsterInstance.ephemeral()
    assets = [ingest.raw_users, ingest.raw_products, ingest.raw_events, cleaning.cleaned_events,
              text.text_encoder, text.text_embeddings, text.user_text_profile]
    span = {"dagster/asset_partition_range_start": "2026-10-01",
            "dagster/asset_partition_range_end": "2026-10-04"}
    assert dg.materialize(assets, selection=["raw_users", "raw_products"], resources=resources,
                          instance=instance).success
    assert dg.materialize(assets, selection=["raw_events", "cleaned_events"], resources=resources,
                          instance=instance, tags=span).success

    result = dg.materialize(assets, selection=["text_encoder"], resources=resources,
                            instance=instance, raise_on_error=False)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.event_specific_data.error.message)
    assert "no product texts" not in message
    assert "no category labels" in message and "no rated reviews" in message
    assert "fewer co-occurring text pairs than needed" in message

    # daily: the base encoder, and interests from product-text clusters named in words
    result = dg.materialize(assets, selection=["text_embeddings", "user_text_profile"],
                            resources=resources, instance=instance, tags=span)
    meta = result.asset_materializations_for_node("user_text_profile")[0].metadata
    assert meta["interest_source"].value == "text_clusters"
    with duckdb.connect(str(data_dir / "warehouse" / "test.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT user_id, top_interests FROM ml.user_text_profile "
                           "WHERE profile_date = '2026-10-04' AND products > 0").fetchall()
        buyers = con.execute("SELECT count(DISTINCT user_id) FROM clean.events "
                             "WHERE event_type = 'purchase'").fetchone()[0]
    assert len(rows) == buyers > 0
    assert all(len(top) == 3 and all(any(c.isalpha() for c in name) for name in top)
               for _, top in rows)


def test_a_gain_within_held_out_sampling_is_not_beyond_chance():
    """beats_frozen asks the gain's paired bootstrap interval to clear the margin: a pair task
    where one retrieval in 500 improves is chance; one where a fifth improve is not."""
    from profiling_assets.text_training import gain_interval

    rng = np.random.default_rng(0)
    frozen = rng.integers(0, 30, 500)           # ranks of each held-out pair's partner
    lucky = frozen.copy()
    lucky[np.flatnonzero(frozen >= 10)[0]] = 0
    better = np.where(rng.random(500) < 0.2, 0, frozen)
    sizes = {"pairs": 500}
    low, high = gain_interval({"pairs": lucky}, {"pairs": frozen}, sizes, draws=300)
    assert low <= 0 < high
    low, _ = gain_interval({"pairs": better}, {"pairs": frozen}, sizes, draws=300)
    assert low > 0
    # classification items are (true, predicted) labels, scored by macro-F1 per resample
    y = rng.integers(0, 3, 300)
    noisy = np.where(rng.random(300) < 0.5, y, rng.integers(0, 3, 300))
    low, _ = gain_interval({"category": (y, y)}, {"category": (y, noisy)}, {"category": 300}, draws=200)
    assert low > 0


# --------------------------------------------------------------------------- daily fast paths
def test_day_texts_are_normalised_and_hashed_as_one_text_at_a_time():
    """Each distinct raw text is normalised and hashed once; the result is what normalising and
    hashing every occurrence gives (cached vectors are keyed by these hashes)."""
    import pyarrow as pa

    from profiling_assets.text import _normalise_occurrences, text_hash

    rng = np.random.default_rng(0)
    pieces = ["Red  shoe", " red shoe ", "red\tshoe", "red\u00a0shoe", "red\u200bshoe", "\x00", "  ",
              "", "\u3000", "Café", "naïve\r\n text", "\x7f\x85x", "x\u2028y", "日本語", "\ufeffbom"]
    n = 3000
    texts = ["".join(rng.choice(pieces, rng.integers(0, 4))) for _ in range(n)]
    texts[7] = None
    raw = pa.table({"user_id": [f"U{i}" for i in rng.integers(0, 40, n)],
                    "kind": list(rng.choice(["query", "review", "product"], n)), "text": texts,
                    "product_id": [None] * n, "events": np.ones(n, dtype=np.int32),
                    "weight": rng.random(n)})
    occ, distinct, empty = _normalise_occurrences(raw)
    # the reference: every occurrence on its own
    norm = [normalize_text(t) for t in texts]
    kept = [i for i, t in enumerate(norm) if t]
    assert empty == n - len(kept) > 0
    assert occ.column_names == ["user_id", "kind", "product_id", "events", "weight", "text_hash"]
    assert occ["text_hash"].to_pylist() == [text_hash(norm[i]) for i in kept]
    assert occ["weight"].to_pylist() == [raw["weight"][i].as_py() for i in kept]
    first = {}
    for i in kept:
        first.setdefault(text_hash(norm[i]), (raw["kind"][i].as_py(), norm[i]))
    assert list(distinct["text_hash"]) == list(first)
    assert list(zip(distinct["kind"], distinct["text"], strict=True)) == list(first.values())


def test_interest_vectors_equal_one_sparse_product_over_sorted_pairs(monkeypatch):
    """The window's pairs, counts and float64 sums are those of the plain recipe: the
    occurrences grouped per (user, text) in (user, text) order, one sparse product."""
    import pyarrow as pa
    import scipy.sparse as sp

    from profiling_assets import text

    rng = np.random.default_rng(1)
    n, dim = 20_000, 24
    hashes = np.array([f"{h:032x}" for h in rng.integers(0, 2**62, 400)], dtype=object)
    rows = pa.table({
        "user_id": [f"U{u:04d}" for u in rng.integers(0, 700, n)],
        "text_hash": hashes[rng.integers(0, len(hashes), n)],
        "weight": rng.random(n),
        "event_date": pa.array(rng.integers(20_000, 20_030, n).astype("datetime64[D]")),
        "kind": pa.array(rng.choice([0, 2, 2, 2, 1, None], n), type=pa.int8()),
    })
    V = rng.standard_normal((len(hashes), dim)).astype(np.float32)
    texts, codes = text._codes(rows["text_hash"])
    window = text.TextWindow(rows, texts, codes)
    order = window.hashes_in_first_seen_order()
    # the reference
    df = rows.to_pandas()
    pairs = (df.groupby(["user_id", "text_hash"], sort=True)
             .agg(weight=("weight", "sum"), kind=("kind", "max"), last=("event_date", "max"))
             .reset_index())
    users, user = np.unique(pairs["user_id"], return_inverse=True)
    assert window.users.to_pylist() == list(users)
    assert list(order) == list(pd.unique(pairs["text_hash"]))
    np.testing.assert_allclose(window.weight, pairs["weight"], rtol=1e-15)
    assert list(window.counts) == list(np.bincount(user))
    for k, kinds in enumerate(window.kinds):
        assert list(kinds) == list(np.bincount(user, pairs["kind"] == k, minlength=len(users)))
    last = pairs.groupby("user_id")["last"].max().to_numpy().astype("datetime64[D]")
    assert list(window.last.astype("datetime64[D]")) == list(last)
    at = pd.Index(order).get_indexer(pairs["text_hash"])
    W = sp.csr_matrix((window.weight, (user, at)), shape=(len(users), len(order)))
    plain = np.asarray(W @ V[pd.Index(hashes).get_indexer(order)].astype(np.float64))
    plain = (plain / np.linalg.norm(plain, axis=1, keepdims=True)).astype(np.float32)
    # several blocks of users and of dimensions, on threads
    monkeypatch.setattr(text, "USER_BLOCK", 128)
    monkeypatch.setattr(text, "DIM_BLOCK", 8)
    got = text.interest_vectors(window.weights(pd.Index(order).get_indexer(
        texts.to_numpy(zero_copy_only=False)), len(order)), V[pd.Index(hashes).get_indexer(order)])
    assert np.array_equal(got, plain)


def test_vector_cache_keeps_the_previous_window_across_a_prototype_lookup():
    """A day's prototype texts are looked up first, with ``keep``: the texts the previous day's
    window cached stay cached (not read again), and a plain lookup then holds only its own."""
    from profiling_assets import text
    from profiling_assets.resources import prepare_connection

    con = duckdb.connect()
    prepare_connection(con)
    for n, h in enumerate("abc"):
        con.execute("INSERT INTO ml.text_embeddings VALUES ('v', ?, 'product', ?, 1, ?, "
                    "DATE '2026-10-01', TIMESTAMP '2026-10-01 00:00:00')",
                    [h, h, [float(n)] * text.DIM])
    cache = text.VectorCache("v")
    cache.lookup(con, np.array(["a", "b"], dtype=object))
    index, matrix = cache.lookup(con, np.array(["c"], dtype=object), keep=True)
    assert list(index) == ["c"] and matrix[0, 0] == 2.0
    con.execute("DELETE FROM ml.text_embeddings WHERE text_hash IN ('a', 'c')")  # no re-read
    index, matrix = cache.lookup(con, np.array(["a", "c", "d"], dtype=object))
    assert list(index) == ["a", "c"] and list(matrix[:, 0]) == [0.0, 2.0]
    assert list(cache.index) == ["a", "c"]
