"""Text understanding: the fine-tuned encoder (model asset), the daily embedding cache and
each user's interest vector.

Heavy work (fine-tuning, encoding) runs outside the warehouse connection: texts are read,
the connection is given back, the model runs, and results are written in a short second
connection, so other writers wait seconds, not minutes.
"""

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from dagster_duckdb import DuckDBResource
from pydantic import Field

from profiling_assets import model_assets, pictures, registry, sql
from profiling_assets.encoder import (
    EncodeStats,
    TextEncoder,
    base_model_path,
    max_length_of,
    normalize_text,
)
from profiling_assets.metadata import day_logger, preview_file, table_value
from profiling_assets.model_assets import model_asset
from profiling_assets.partitions import daily_asset
from profiling_assets.resources import ModelRegistryResource, replace_partition
from profiling_assets.signals import data_signals
from profiling_assets.text_training import (
    MIN_TRAIN_PAIRS,
    PAIR_TASK,
    RECALL_AT,
    evaluate_encoder,
    fine_tune_and_score,
    headline,
    prepare_examples,
    weighted,
    weighted_gain,
)

MODEL_NAME = "text_encoder"
DIM = 384
# beats_frozen: the fine-tuned encoder replaces the base for every daily embedding, so it must
# score higher than the frozen base on held-out data: the size-weighted mean over tasks of the
# per-task gain (macro-F1 for classification, mean recall@1/5/10 for pairs) must exceed this,
# and so must the lower bound of its 90% paired bootstrap interval over the held-out texts
# (a gain that held-out sampling alone could produce does not replace the base).
BEATS_FROZEN_MARGIN = 0.0
# not_worse_than_production: the same weighted gain against the production encoder, scored in
# the same run on the same held-out data, may not fall below minus this.
REGRESSION_TOLERANCE = 0.02
# The gain the fine-tuning aims for (reported; not a promotion condition).
GOAL_GAIN = 0.05
# Pairs read from the warehouse at most (a fixed pseudo-random subset of the window's pairs).
MAX_PAIRS = 50_000


BASE_VERSION = "base-all-MiniLM-L6-v2"


def encoder_in_use(con: duckdb.DuckDBPyConnection) -> tuple[str, Path | None]:
    """The production encoder's (version, folder); before any fine-tuned version has been
    promoted, the packaged base model (folder None), so daily embeddings never wait on a fit."""
    model = registry.production(con, MODEL_NAME)
    return (model.version, model.artifact_path) if model else (BASE_VERSION, None)


def max_length_of_version(folder: Path | None) -> int:
    """The token length daily embeddings of an encoder version use (its saved config)."""
    return max_length_of(folder or base_model_path())


def text_hash(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class TextEncoderConfig(dg.Config):
    epochs: int = Field(2, description="training epochs")
    batch_size: int = Field(32, description="training batch size (texts)")
    max_length: int = Field(0, description="tokens in training, evaluation and daily use; 0: the training "
                            "texts' 95th percentile rounded up to 32, between 32 and 256")
    learning_rate: float = Field(1e-4, description="optimiser learning rate")
    sample_cap: int = Field(2000, description="training texts per epoch at most, shared by tasks and labels")
    eval_share: float = Field(
        0.2, description="share (0..1) of distinct texts (and of days, for pairs) held out for evaluation")
    window_days: int = Field(90, description="days of clean events the labels and pairs come from")
    max_steps: int = Field(0, description="stop after this many optimiser steps; 0: no limit")
    temperature: float = Field(0.05, description="temperature of the contrastive pair loss")
    min_pairs: int = Field(MIN_TRAIN_PAIRS, description="training pairs the pair task needs")
    seed: int = Field(0, description="random seed")


def _fmt(value: float | None) -> str:
    return "" if value is None or np.isnan(value) else f"{value:.3f}"


def _evaluation_rows(sizes: dict[str, int], frozen: dict, tuned: dict, production: dict | None,
                     heads: dict) -> list[list]:
    total = max(1, sum(sizes.values()))
    rows = []
    for task, n in sizes.items():
        f, t, p = frozen.get(task, {}), tuned.get(task, {}), (production or {}).get(task, {})
        measure = ("mean recall@1/5/10" if task == PAIR_TASK else "macro-F1 (balanced probe)")
        detail = (", ".join(f"R@{k} {f.get(f'recall_at_{k}', 0):.3f}→{t.get(f'recall_at_{k}', 0):.3f}"
                            for k in RECALL_AT) if task == PAIR_TASK else
                  f"accuracy {f.get('accuracy', 0):.3f}→{t.get('accuracy', 0):.3f}; head macro-F1 "
                  f"{_fmt(heads.get(task, {}).get('macro_f1'))}")
        rows.append([task, n, n / total, measure, f.get("score"), t.get("score"),
                     t.get("score", 0) - f.get("score", 0), p.get("score") if production else None,
                     detail])
    return rows


@model_asset(
    deps=["cleaned_events", "raw_products"],
    group_name="text",
    kinds={"tensorflow", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec("beats_frozen", asset="text_encoder", blocking=True,
                          description="On held-out data, the fine-tuned encoder scores higher than "
                          "the frozen base model at the same max_length: the per-task gains "
                          "(macro-F1 of a class-balanced probe; mean recall@1/5/10 of paired "
                          "texts), weighted by each task's held-out size, average above "
                          f"{BEATS_FROZEN_MARGIN}. Promotion needs this and "
                          "not_worse_than_production."),
        dg.AssetCheckSpec("not_worse_than_production", asset="text_encoder", blocking=True,
                          description="The same weighted score against the current production "
                          "encoder, scored in this run on the same held-out data, is not lower "
                          f"by more than {REGRESSION_TOLERANCE} (passes when there is none)."),
        dg.AssetCheckSpec("fine_tune_gain", asset="text_encoder",
                          description=f"Fine-tuning gains at least {GOAL_GAIN} in the weighted "
                          "score over the frozen base model (the goal; a warning when missed)."),
    ],
)
def text_encoder(context: dg.AssetExecutionContext, config: TextEncoderConfig,
                 warehouse: DuckDBResource, model_registry: ModelRegistryResource):
    """Fine-tunes the packaged all-MiniLM-L6-v2 (TensorFlow) on what the data carries: query
    and product text → category, review text → rating band (classification heads), and pairs
    of texts that go together in every event log (products of one session/invoice or user-day,
    a query and the product it led to; contrastive loss with in-batch negatives). Without
    categories or reviews the pairs alone train it. Saves the encoder in Hugging Face layout
    (with the chosen max_length in its config) as a new version in ml.model_registry, scored
    against the frozen base model and the production version on the same held-out data."""
    with warehouse.get_connection() as con:
        first, last = registry.training_window(con, config.window_days)
        rows = sql.run(con, "select_text_training_examples", first_day=first, last_day=last).df()
        pairs = sql.run(con, "select_text_pair_examples", first_day=first, last_day=last,
                        max_pairs=MAX_PAIRS).df()
        sql.run(con, "drop_text_pair_tables")
        production = registry.production(con, MODEL_NAME)
        signals = data_signals(con, first, last)
    ex = prepare_examples(rows, sample_cap=config.sample_cap, eval_share=config.eval_share,
                          seed=config.seed, pairs=pairs, min_pairs=config.min_pairs)
    tasks = ex.tasks()
    if not tasks:
        raise dg.Failure(f"Nothing to fine-tune the text encoder on between {first} and {last}: "
                         f"{ex.why_nothing_to_learn()}. The data has no "
                         f"{', '.join(signals.names()) or 'missing inputs'}.",
                         metadata=signals.metadata())
    ex.train = ex.train[ex.train["task"].isin(tasks)].reset_index(drop=True)
    ex.test = ex.test[ex.test["task"].isin(tasks)].reset_index(drop=True)
    if PAIR_TASK not in tasks:
        ex.pairs_train, ex.pairs_test = ex.pairs_train.iloc[:0], ex.pairs_test.iloc[:0]
    sizes = ex.heldout_sizes()
    context.log.info(f"Tasks {tasks}: {len(ex.train):,} training texts, {len(ex.pairs_train):,} "
                     f"training pairs; held out {sizes} ({first}..{last})")

    every = max(1, config.sample_cap // config.batch_size // 5)

    def progress(step: int, total: int, loss: float) -> None:
        if step % every == 0 or step == total:
            context.log.info(f"step {step}/{total}: loss {loss:.3f}")

    version = registry.new_version()
    out = fine_tune_and_score(
        ex, write=lambda save: model_registry.write_artifact(MODEL_NAME, version, save),
        max_length=config.max_length, epochs=config.epochs, batch_size=config.batch_size,
        learning_rate=config.learning_rate, seed=config.seed, temperature=config.temperature,
        max_steps=config.max_steps or None, log=context.log.info, progress=progress)
    max_length, spread, frozen, tuned, heads, fit, path = (
        out.max_length, out.lengths, out.frozen, out.tuned, out.heads, out.fit, out.path)
    vs_production, production_metrics = None, None
    if production is not None and production.artifact_path.exists():
        production_metrics = evaluate_encoder(TextEncoder(production.artifact_path), ex)
        vs_production = weighted_gain(tuned, production_metrics, sizes)

    score, frozen_score = weighted(tuned, sizes), weighted(frozen, sizes)
    gain = out.gain
    low, high = out.gain_interval
    # more than chance: the gain's bootstrap interval over the held-out texts clears the margin
    beats = gain > BEATS_FROZEN_MARGIN and low > BEATS_FROZEN_MARGIN
    if production is None:
        why = "no production version to compare with"
    elif production_metrics is None:
        why = f"production {production.version} has no artifact at {production.artifact_path}"
    else:
        why = (f"weighted score {score:.4f} vs production {production.version} "
               f"{weighted(production_metrics, sizes):.4f} on this run's held-out data: gain "
               f"{vs_production:+.4f} (tolerance {REGRESSION_TOLERANCE})")
    not_worse = vs_production is None or vs_production >= -REGRESSION_TOLERANCE
    # the production guard is scored by the model itself (same run, same held-out data), so it
    # is a gate of its own rather than a registry Guard
    beats_why = (f"weighted gain over the frozen base model {gain:+.4f}, 90% paired bootstrap "
                 f"interval {low:+.4f}..{high:+.4f}"
                 + ("" if beats else f": not above {BEATS_FROZEN_MARGIN} beyond chance"))
    gates = [
        model_assets.Gate("beats_frozen", beats, beats_why, metadata={
            "fine_tuned_score": score, "frozen_score": frozen_score, "gain": gain,
            "gain_interval_low": low, "gain_interval_high": high,
            "weights": dg.MetadataValue.json(sizes), "max_length": max_length}),
        model_assets.Gate("not_worse_than_production", not_worse, why, metadata={
            "versus_production": why, "tolerance": REGRESSION_TOLERANCE}),
    ]

    metrics = {
        "score": score, "frozen_score": frozen_score, "gain": gain, "max_length": max_length,
        "gain_interval_low": low, "gain_interval_high": high,
        "tasks": tasks, "heldout_sizes": sizes,
        **({"macro_f1": headline(tuned, sizes), "frozen_macro_f1": headline(frozen, sizes)}
           if ex.classification_tasks() else {}),
        **({"production_score": weighted(production_metrics, sizes),
            "gain_over_production": vs_production} if production_metrics else {}),
        **{f"{task}_{k}": v for task, m in tuned.items() for k, v in m.items()},
        **{f"frozen_{task}_{k}": v for task, m in frozen.items() for k, v in m.items()},
        **{f"head_{task}_{k}": v for task, m in heads.items() for k, v in m.items()},
        **spread,
        "train_examples": len(ex.train), "train_pairs": len(ex.pairs_train),
        "heldout_examples": len(ex.test), "heldout_pairs": len(ex.pairs_test),
        "first_loss": fit.first_steps_loss, "last_loss": fit.last_steps_loss,
        "pair_first_loss": fit.pair_first_loss, "pair_last_loss": fit.pair_last_loss,
        "fit_seconds": fit.seconds,
        "seconds_per_1k_examples": fit.seconds / max(1, fit.steps * config.batch_size) * 1000,
        "device": fit.device,
    }
    metrics = {k: v for k, v in metrics.items() if not (isinstance(v, float) and np.isnan(v))}
    with warehouse.get_connection() as con:
        verdict = model_assets.conclude(
            context, con, MODEL_NAME, version, path, metrics=metrics,
            config={**config.model_dump(), "max_length": max_length}, window=(first, last),
            gates=gates, fallback="the daily embeddings keep the production encoder (or the "
                                  "packaged base model) until a version is promoted")

    counts = (pd.concat([ex.train.assign(split="train"), ex.test.assign(split="held_out")])
              .groupby(["task", "source", "split"]).size().unstack(fill_value=0)
              .reindex(columns=["train", "held_out"], fill_value=0))
    example_rows = [[*key, *vals] for key, vals in
                    zip(counts.index, counts.to_numpy().tolist(), strict=True)]
    for kind in sorted(set(ex.pairs_train["kind"]) | set(ex.pairs_test["kind"])):
        example_rows.append([PAIR_TASK, f"{kind} pairs", int((ex.pairs_train["kind"] == kind).sum()),
                             int((ex.pairs_test["kind"] == kind).sum())])
    yield dg.MaterializeResult(metadata={
        **verdict.metadata(),
        **signals.metadata(),
        "training_window": f"{first}..{last}",
        "tasks": ", ".join(tasks),
        "device": fit.device,
        "mixed_precision": fit.mixed_precision,
        "max_length": max_length,
        "max_length_rule": ("run config" if config.max_length else
                            "95th percentile of training token lengths, rounded up to 32, ≤ 256"),
        "token_lengths": dg.MetadataValue.json({k: round(v, 3) for k, v in spread.items()}),
        "saved_max_length": out.saved_max_length,
        "score": dg.MetadataValue.float(score),
        "frozen_score": dg.MetadataValue.float(frozen_score),
        "gain": dg.MetadataValue.float(gain),
        "gain_interval": f"{low:+.4f}..{high:+.4f} (90% paired bootstrap over held-out texts)",
        **({"macro_f1": dg.MetadataValue.float(metrics["macro_f1"]),
            "frozen_macro_f1": dg.MetadataValue.float(metrics["frozen_macro_f1"])}
           if "macro_f1" in metrics else {}),
        **({f"{PAIR_TASK}_recall_at_{k}": dg.MetadataValue.float(tuned[PAIR_TASK][f"recall_at_{k}"])
            for k in RECALL_AT} if PAIR_TASK in tuned else {}),
        **({f"frozen_{PAIR_TASK}_recall_at_{k}":
            dg.MetadataValue.float(frozen[PAIR_TASK][f"recall_at_{k}"])
            for k in RECALL_AT} if PAIR_TASK in frozen else {}),
        "pair_split": ex.pair_split,
        "evaluation": table_value(
            ["task", "held out", "weight", "measure", "frozen", "fine-tuned", "gain",
             "production", "detail"],
            _evaluation_rows(sizes, frozen, tuned, production_metrics, heads),
            types=dict.fromkeys(["weight", "frozen", "fine-tuned", "gain", "production"], "float")),
        "examples": table_value(["task", "source", "train", "held out"], example_rows,
                                types={"train": "int", "held out": "int"}),
        "sample_budgets": dg.MetadataValue.json(ex.budgets),
        "loss_first_steps": fit.first_steps_loss,
        "loss_last_steps": fit.last_steps_loss,
        **({"pair_loss_first_steps": fit.pair_first_loss, "pair_loss_last_steps": fit.pair_last_loss}
           if fit.pair_steps else {}),
        "epoch_losses": str([round(v, 4) for v in fit.losses]),
        "steps": fit.steps,
        "fit_seconds": round(fit.seconds, 1),
        "seconds_per_1k_examples": round(metrics["seconds_per_1k_examples"], 1),
        "empty_texts_dropped": ex.dropped.get("empty_texts", 0),
        "loss_plot": pictures.line_chart(fit.loss_curves(), "text_encoder: training loss per step",
                                         xlabel="step", ylabel="loss", smooth=True),
        **{f"{task}_confusion_plot": pictures.confusion_matrix(
            y, pred, ex.labels[task], f"{task}: held-out confusion of the fine-tuned encoder's probe")
           for task, (y, pred) in out.predictions.items()},
        **{f"{task}_{k}": dg.MetadataValue.float(tuned[task][k])
           for task in out.predictions for k in ("macro_f1", "accuracy")},
    })
    yield from verdict.check_results()
    yield dg.AssetCheckResult(
        check_name="fine_tune_gain", passed=gain >= GOAL_GAIN, severity=dg.AssetCheckSeverity.WARN,
        metadata={"gain": gain, "goal": GOAL_GAIN})


# --------------------------------------------------------------------------- daily assets

class TextEmbeddingsConfig(dg.Config):
    backend: str = Field(
        "tensorflow", description='"tensorflow" or "pytorch" (same saved weights; needs torch installed)')
    batch_size: int = Field(64, description="texts encoded per batch")
    weight_query: float = Field(1.0, description="interest weight of one search query occurrence")
    weight_review: float = Field(2.0, description="interest weight of one review occurrence")
    weight_view: float = Field(0.5, description="interest weight of one viewed product's text")
    weight_cart: float = Field(1.0, description="interest weight of one carted product's text")
    weight_purchase: float = Field(2.0, description="interest weight of one bought product's text")


def _normalise_occurrences(raw: pa.Table) -> tuple[pa.Table, pd.DataFrame, int]:
    """(the occurrences with their text's hash instead of the text; the distinct texts in the
    order first met, with the kind of that first occurrence: text_hash, kind, normalised text;
    the number of occurrences dropped because their text is empty once normalised). Each
    distinct raw text is normalised and hashed once: a day's ~730k occurrences share ~40k."""
    encoded = pc.dictionary_encode(raw["text"].combine_chunks(), null_encoding="encode")
    norm = np.array([normalize_text(t) for t in encoded.dictionary.to_pylist()], dtype=object)
    # raw texts that normalise alike share one hash; "" stands for an empty text
    ids, hashes = pd.factorize(np.array([text_hash(t) if t else "" for t in norm], dtype=object))
    texts = np.empty(len(hashes), dtype=object)
    texts[ids] = norm
    row_id = ids[encoded.indices.to_numpy()]
    keep = texts[row_id] != ""
    row_id = row_id[keep]
    occ = (raw.drop_columns(["text"]).filter(keep)
           .append_column("text_hash", pa.array(hashes, pa.string()).take(pa.array(row_id))))
    first = np.full(len(hashes), len(row_id))
    np.minimum.at(first, row_id, np.arange(len(row_id)))
    seen = np.argsort(first)
    seen = seen[first[seen] < len(row_id)]  # not the empty text, met in no kept row
    distinct = pd.DataFrame({
        "text_hash": hashes[seen],
        "kind": occ["kind"].take(pa.array(first[seen])).to_numpy(zero_copy_only=False),
        "text": texts[seen]})
    return occ, distinct, int(len(keep) - len(row_id))


def _day_texts(con: duckdb.DuckDBPyConnection, day: str, weights: dict[str, float]) -> pa.Table:
    """The day's text occurrences: queries and reviews, then product texts (two queries, see
    select_day_texts.sql)."""
    said = sql.arrow(con, "select_day_texts", day=day, **weights)
    touched = sql.arrow(con, "select_day_product_texts", day=day, **weights)
    return pa.concat_tables([said, touched.cast(said.schema)])


def _add_embeddings(new: pa.Table, version: str, day: str, con: duckdb.DuckDBPyConnection) -> None:
    con.register("new_embeddings", new)
    sql.run(con, "insert_text_embeddings", version=version, day=day,
            now=datetime.now(UTC).replace(tzinfo=None))
    con.unregister("new_embeddings")


def _embeddings_table(hashes: list[str], kinds: list[str], texts: list[str], tokens: list[int],
                      vectors: np.ndarray) -> pa.Table:
    flat = pa.array(vectors.astype(np.float32).ravel(), type=pa.float32())
    return pa.table({"text_hash": hashes, "kind": kinds, "text": texts,
                     "tokens": pa.array(tokens, type=pa.int32()),
                     "embedding": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])})


@daily_asset(
    table="ml.text_embeddings",
    deps=["cleaned_events", "raw_products", "text_encoder"],
    group_name="text",
    kinds={"tensorflow", "duckdb"},
)
def text_embeddings(context: dg.AssetExecutionContext, config: TextEmbeddingsConfig,
                    warehouse: DuckDBResource) -> dg.MaterializeResult:
    """ml.text_embeddings: the day's new distinct texts (queries, reviews, product texts of
    touched products) embedded by the production text_encoder, cached by (text hash, model
    version) so no text is encoded twice by one version; ml.text_occurrences: who produced or
    touched which text that day."""
    days = list(context.partition_keys)
    weights = {"w_query": config.weight_query, "w_review": config.weight_review,
               "w_view": config.weight_view, "w_cart": config.weight_cart,
               "w_purchase": config.weight_purchase}
    encoder: TextEncoder | None = None
    log = day_logger(context, days)
    per_day, totals = [], EncodeStats()
    version = None
    for day in days:
        with warehouse.get_connection() as con:
            version, folder = encoder_in_use(con)
            occ, distinct, empty = _normalise_occurrences(_day_texts(con, day, weights))
            con.register("day_texts", pa.table({"text_hash": pa.array(distinct["text_hash"],
                                                                      pa.string())}))
            cached = {r[0] for r in sql.query(con, "select_cached_text_hashes", version=version)}
            con.unregister("day_texts")
        todo = distinct[np.array([h not in cached for h in distinct["text_hash"]], dtype=bool)]
        stats = EncodeStats()
        then = []
        if len(todo):
            if encoder is None:
                encoder = TextEncoder(folder, backend=config.backend, batch_size=config.batch_size)
                context.log.info(f"Encoder {version} on {encoder.device} ({config.backend})")
                if folder is None:
                    context.log.warning("No production text_encoder yet: using the packaged base "
                                        "model. Materialize text_encoder to fine-tune one.")
            step = max(2048, len(todo) // 10)

            def progress(done: int, total: int, day: str = day, step: int = step) -> None:
                if done // step != (done - config.batch_size) // step or done == total:
                    context.log.info(f"{day}: encoded {done:,}/{total:,} texts")

            texts = todo["text"].tolist()
            vectors, tokens = encoder.encode_with_tokens(texts, progress=progress, stats=stats)
            new = _embeddings_table(todo["text_hash"].tolist(), todo["kind"].tolist(), texts,
                                    tokens, vectors)
            # texts first met today, in the same transaction as the occurrences that use them
            then.append(partial(_add_embeddings, new, version, day))
        with warehouse.get_connection() as con:
            replace_partition(con, "text_occurrences", rows=occ, day=day,
                              then=then)
        totals.texts += stats.texts
        totals.seconds += stats.seconds
        per_day.append([day, len(occ), len(distinct), len(distinct) - len(todo), len(todo), empty,
                        stats.texts_per_second])
        log(day, f"{len(distinct):,} distinct texts, {len(distinct) - len(todo):,} "
                         f"cached, {len(todo):,} encoded, {empty} empty")
    seen = sum(r[2] for r in per_day)
    return dg.MaterializeResult(metadata={
        "model_version": version,
        "fine_tuned": version != BASE_VERSION,
        "device": encoder.device if encoder else "none (every text was cached)",
        "backend": config.backend,
        "max_length": encoder.max_length if encoder else max_length_of_version(folder),
        "texts_seen": seen,
        "cache_hits": sum(r[3] for r in per_day),
        "texts_encoded": totals.texts,
        "texts_per_second": round(totals.texts_per_second, 1),
        "empty_texts_skipped": sum(r[5] for r in per_day),
        "dagster/row_count": sum(r[1] for r in per_day),
        "per_day": table_value(
            ["day", "occurrences", "distinct texts", "cache hits", "encoded", "empty", "texts/s"],
            per_day, types={"texts/s": "float"}),
    })


class UserTextProfileConfig(dg.Config):
    window_days: int = Field(30, description="days of text occurrences that count (older ones do not)")
    half_life_days: float = Field(7.0, description="an occurrence's weight halves every this many days")
    top_interests: int = Field(3, description="nearest catalogue categories (or text clusters) kept per user")
    rows_per_pass: int = Field(8_000_000, gt=0, description=(
        "window occurrences read into memory at once (about 200 bytes each); a larger window "
        "is read in passes over disjoint groups of users"))


class VectorCache:
    """Embeddings of one encoder version for the texts of the current window. Consecutive days'
    windows share most of their texts: each day reads only the vectors new to its window and
    keeps only its own, so memory stays that of one window however long the run."""

    def __init__(self, version: str):
        self.version = version
        self.index = pd.Index([], dtype=object)
        self.matrix = np.zeros((0, DIM), dtype=np.float32)

    def lookup(self, con: duckdb.DuckDBPyConnection, hashes: np.ndarray, *,
               keep: bool = False) -> tuple[pd.Index, np.ndarray]:
        """(index, matrix) with one row per hash of ``hashes`` that has an embedding; the
        cache then holds only those, or with ``keep`` what it held as well."""
        index, matrix = self.index, self.matrix
        missing = hashes[index.get_indexer(hashes) < 0]
        if len(missing):
            con.register("wanted_hashes", pa.table({"text_hash": pa.array(missing, pa.string())}))
            table = sql.arrow(con, "select_text_vectors", version=self.version)
            con.unregister("wanted_hashes")
            flat = table["embedding"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
            index = index.append(pd.Index(table["text_hash"].to_numpy(zero_copy_only=False)))
            matrix = (np.vstack([matrix, flat.reshape(-1, DIM)]) if len(matrix) else
                      flat.reshape(-1, DIM))
        at = index.get_indexer(hashes)
        at = at[at >= 0]
        if keep:
            self.index, self.matrix = index, matrix
            return index[at], matrix[at]
        self.index, self.matrix = index[at], matrix[at]
        return self.index, self.matrix


# Interests where the catalogue has no categories: k-means clusters of the embedded product
# texts, k = √(n/2) for n product texts (the usual rule of thumb), between 2 and MAX_CLUSTERS
# and never more than n; each named by the words most distinctive of its titles.
MAX_CLUSTERS = 30
CLUSTER_NAME_WORDS = 3
CATEGORIES, TEXT_CLUSTERS, NO_PROTOTYPES = "categories", "text_clusters", "none"


def cluster_count(n: int) -> int:
    return int(min(n, max(2, min(MAX_CLUSTERS, round(np.sqrt(n / 2))))))


def cluster_names(titles: list[str], labels: np.ndarray, k: int,
                  words: int = CLUSTER_NAME_WORDS) -> list[str]:
    """Each cluster's name: its top TF-IDF words, one document per cluster (all its product
    titles), so a word frequent in the cluster and rare in the others ranks first."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    titles_arr = np.asarray(titles, dtype=object)
    docs = [" ".join(titles_arr[labels == c]) for c in range(k)]
    names = [f"cluster {c + 1}" for c in range(k)]
    # letters only: stock codes, sizes and numbers name nothing
    vectorizer = TfidfVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
                                 sublinear_tf=True)
    try:
        X = vectorizer.fit_transform(docs).toarray()
    except ValueError:  # no word at all in any title
        return names
    terms = vectorizer.get_feature_names_out()
    seen: set[str] = set()
    for c in range(k):
        top = [j for j in np.argsort(-X[c], kind="stable")[:words] if X[c, j] > 0]
        name = " / ".join(terms[j] for j in top) or names[c]
        names[c] = name if name not in seen else f"{name} ({c + 1})"
        seen.add(names[c])
    return names


def text_clusters(vectors: np.ndarray, titles: list[str],
                  seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, prototypes, labels): k-means over L2-normalised product-text vectors; each
    prototype is its cluster's normalised mean, like a category's. Deterministic for a given
    set of texts, so re-running a day gives the same interests."""
    from sklearn.cluster import KMeans

    n = len(vectors)
    if n == 0:
        return [], np.zeros((0, DIM), dtype=np.float32), np.zeros(0, dtype=np.int64)
    k = cluster_count(n)
    labels = (KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(vectors)
              if k > 1 else np.zeros(n, dtype=np.int64))
    k = int(labels.max()) + 1
    means = np.stack([vectors[labels == c].mean(axis=0) for c in range(k)])
    protos = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    return cluster_names(titles, labels, k), protos.astype(np.float32), labels


class ClusterCache:
    """The last day's clusters, reused while the set of embedded product texts is unchanged
    (a catalogue stops growing after some days: most days then cost no clustering)."""

    def __init__(self):
        self.key: str | None = None
        self.value: tuple[list[str], np.ndarray] = ([], np.zeros((0, DIM), dtype=np.float32))

    def get(self, texts: pd.DataFrame, hashes: pd.Index, V: np.ndarray) -> tuple[list[str], np.ndarray]:
        key = hashlib.md5("\n".join(texts["text_hash"]).encode()).hexdigest()
        if key != self.key:
            names, protos, _ = text_clusters(V[hashes.get_indexer(texts["text_hash"])],
                                             texts["title"].fillna("").tolist())
            self.key, self.value = key, (names, protos)
        return self.value


def _codes(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """(the distinct values in sorted order, each row's position among them) of a string
    column: Arrow hashes the strings once; everything after works on integers."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return encoded.dictionary.take(order), rank[encoded.indices.to_numpy()]


class TextWindow:
    """A profile window's occurrences of embedded texts summed per (user, text), in (user id,
    text hash) order as the window query once returned them, with the per-user counts."""

    def __init__(self, rows: pa.Table, texts: pa.Array, text: np.ndarray):
        """``rows``: the window query's; ``texts``, ``text``: the sorted distinct text hashes
        and each row's position among them (of embedded texts only: rows of others are
        left out before they reach here)."""
        self.users, user = _codes(rows["user_id"])
        self.texts = texts
        n = len(self.users)
        # users × texts, the rows of a (user, text) pair (one per day it occurred on) summed:
        # scipy sorts by user, then by text within a user, without a sort of all the rows
        pairs = sp.csr_matrix((rows["weight"].to_numpy(), (user, text)), shape=(n, len(texts)))
        self.weight, self.text, self.counts = (pairs.data, pairs.indices.astype(np.int64),
                                               np.diff(pairs.indptr).astype(np.int32))
        self.user = np.repeat(np.arange(n), self.counts)
        # a pair's kind: its rows agree on it unless one text was met as two kinds (say, a
        # query and a review), where the window query took any one and this takes the
        # largest. Summed like the weights, a row of kind k adds 2^(16k) (unknown kinds 0):
        # exact while a pair has fewer than 2^16 rows, so the sum tells which kinds it has.
        code = pc.fill_null(rows["kind"], -1).to_numpy().astype(np.int64)
        present = sp.csr_matrix((np.where(code >= 0, 2.0 ** (16 * code), 0.0), (user, text)),
                                shape=(n, len(texts))).data
        kind = np.select([present >= 2.0 ** 32, present >= 2.0 ** 16, present > 0], [2, 1, 0], -1)
        known = kind >= 0
        # queries, reviews, products per user
        self.kinds = [np.ascontiguousarray(c, dtype=np.int32) for c in np.bincount(
            self.user[known] * 3 + kind[known], minlength=3 * n).reshape(n, 3).T]
        self.last = np.full(n, np.iinfo(np.int32).min, dtype=np.int32)
        np.maximum.at(self.last, user, rows["event_date"].cast(pa.int32()).to_numpy())

    def hashes_in_first_seen_order(self) -> np.ndarray:
        """The window's text hashes in the order they first appear among the sorted pairs: the
        vector matrix's row order, on which the float sums of each user's vectors depend."""
        first = np.full(len(self.texts), len(self.text))
        np.minimum.at(first, self.text, np.arange(len(self.text)))
        order = np.argsort(first)
        return self.texts.take(order[first[order] < len(self.text)]).to_numpy(
            zero_copy_only=False)

    def weights(self, columns: np.ndarray, width: int) -> sp.csr_matrix:
        """The users × vectors matrix of summed recency weights, given each text's vector
        row; column indices sorted within each row, as scipy builds it from coordinates."""
        indptr = np.r_[0, np.cumsum(self.counts, dtype=np.int64)]
        W = sp.csr_matrix((self.weight, columns[self.text], indptr),
                          shape=(len(self.users), width))
        W.sort_indices()
        return W


# The interest product in blocks: 32 dimensions of the vectors (~18 MB in float64) stay in
# cache while a block of users is summed, a block of users bounds its float64 sums to ~50 MB,
# and blocks of users run on threads (scipy's sparse product releases the GIL).
USER_BLOCK = 16_384
DIM_BLOCK = 32
THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count() or 1)


def interest_vectors(W: sp.csr_matrix, V: np.ndarray) -> np.ndarray:
    """The L2-normalised rows of W @ V as float32, with W @ V's float64 sums: each output
    element is the same sequence of products and additions as in one sparse product."""
    V64 = [np.ascontiguousarray(V[:, d:d + DIM_BLOCK], dtype=np.float64)
           for d in range(0, V.shape[1], DIM_BLOCK)]
    interest = np.empty((W.shape[0], V.shape[1]), dtype=np.float32)

    def block(start: int) -> None:
        Wb = W[start:start + USER_BLOCK]
        out = np.empty((Wb.shape[0], V.shape[1]))
        for d, Vd in zip(range(0, V.shape[1], DIM_BLOCK), V64, strict=True):
            out[:, d:d + DIM_BLOCK] = Wb @ Vd
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        interest[start:start + USER_BLOCK] = out / np.maximum(norms, 1e-12)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(block, range(0, W.shape[0], USER_BLOCK)))
    return interest


def build_user_text_profile(con: duckdb.DuckDBPyConnection, day: str, version: str,
                            cfg: UserTextProfileConfig, cache: VectorCache | None = None,
                            clusters: ClusterCache | None = None) -> dict:
    """Interest vectors of every user with text activity in the window ending at ``day``; top
    interests are the nearest category prototypes, or, where no product has a category, the
    nearest product-text clusters."""
    protos_df = sql.run(con, "select_category_prototype_texts", day=day, version=version).df()
    source = CATEGORIES
    cluster_df = pd.DataFrame({"text_hash": pd.Series(dtype=object)})
    if protos_df.empty:
        cluster_df = sql.run(con, "select_product_cluster_texts", day=day, version=version).df()
        source = TEXT_CLUSTERS if len(cluster_df) else NO_PROTOTYPES
    cache = cache or VectorCache(version)
    others = pd.unique(np.concatenate([protos_df["text_hash"].to_numpy(object),
                                       cluster_df["text_hash"].to_numpy(object)]))
    # the prototypes' texts, asked for in every lookup below too; the texts of the previous
    # day's window stay cached for this one
    hashes, V = cache.lookup(con, others, keep=True)
    if source == CATEGORIES:
        names, protos = _prototypes(protos_df, hashes, V)
    elif source == TEXT_CLUSTERS:
        names, protos = (clusters or ClusterCache()).get(cluster_df, hashes, V)
    else:
        names, protos = [], np.zeros((0, DIM), dtype=np.float32)
    # Users are independent of each other here: a window too large for memory (30 days of 10M
    # events a day are 200M occurrences) is read in passes over disjoint groups of them.
    (window_rows,) = sql.query(con, "count_text_window", day=day, window_days=cfg.window_days)[0]
    passes = max(1, -(-window_rows // cfg.rows_per_pass))
    parts, occurrences = [], 0
    for part in range(passes):
        rows = sql.arrow(con, "select_text_window", day=day, window_days=cfg.window_days,
                         half_life_days=cfg.half_life_days,
                         literals={"passes": str(passes), "part": str(part)})
        profiles, pairs = _interest_profiles(con, rows, cache, others, names, protos,
                                             cfg.top_interests)
        del rows
        occurrences += pairs
        if profiles.num_rows:
            parts.append(profiles)
    profiles = pa.concat_tables(parts) if parts else pd.DataFrame(columns=["user_id"])
    replace_partition(con, "user_text_profile", rows=profiles, day=day, version=version)
    return {"users": len(profiles), "occurrences": occurrences, "prototypes": len(names),
            "interest_source": source, "prototype_names": names, "passes": passes}


def _interest_profiles(con: duckdb.DuckDBPyConnection, rows: pa.Table, cache: VectorCache,
                       others: np.ndarray, names: list[str], protos: np.ndarray,
                       top_interests: int) -> tuple[pa.Table, int]:
    """The profile rows of the users whose window occurrences ``rows`` holds, and how many
    (user, text) pairs of embedded texts they have. Every lookup also asks for ``others``
    (the prototypes' texts), so that a one-pass window keeps the cache's texts for the next
    day as they are."""
    # only texts this version has embedded count: the cache knows which (and reads them)
    texts, text = _codes(rows["text_hash"])
    wanted = texts.to_numpy(zero_copy_only=False)
    found, _ = cache.lookup(con, pd.unique(np.concatenate([wanted, others])))
    embedded = found.get_indexer(wanted) >= 0
    if not embedded.all():
        rows = rows.filter(pa.array(embedded[text]))
        texts, text = _codes(rows["text_hash"])
    window = TextWindow(rows, texts, text)
    del rows, text
    n = len(window.users)
    if n == 0:
        return pa.table({"user_id": pa.array([], pa.string())}), 0
    # the vectors in the row order the window's pairs first meet them
    hashes, V = cache.lookup(con, pd.unique(np.concatenate(
        [window.hashes_in_first_seen_order(), others])))
    # the recency-weighted sum of each user's text vectors, as one sparse product
    interest = interest_vectors(window.weights(
        hashes.get_indexer(window.texts.to_numpy(zero_copy_only=False)), len(hashes)), V)
    k = min(top_interests, len(names))
    if k:
        sims = interest @ protos.T
        top = np.argsort(-sims, axis=1)[:, :k]
        top_names = pa.array(names, type=pa.string()).take(pa.array(top.ravel()))
        top_scores = pa.array(np.take_along_axis(sims, top, axis=1).round(4).ravel(),
                              type=pa.float32())
    else:
        top_names = pa.array([], type=pa.string())
        top_scores = pa.array([], type=pa.float32())
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * k, type=pa.int32())
    return pa.table({
        "user_id": window.users,
        "texts": window.counts,
        "queries": window.kinds[0], "reviews": window.kinds[1], "products": window.kinds[2],
        "interest": pa.FixedSizeListArray.from_arrays(pa.array(interest.ravel(),
                                                               type=pa.float32()), DIM),
        "top_interests": pa.ListArray.from_arrays(offsets, top_names),
        "top_interest_scores": pa.ListArray.from_arrays(offsets, top_scores),
        "last_text_date": window.last.astype("datetime64[D]"),
    }), len(window.weight)


def _prototypes(protos_df: pd.DataFrame, hashes: pd.Index,
                V: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Each category's prototype: the normalised mean of its embedded product texts."""
    names, rows = [], []
    for category, group in protos_df.groupby("category"):
        mean = V[hashes.get_indexer(group["text_hash"])].mean(axis=0)
        names.append(str(category))
        rows.append(mean / max(np.linalg.norm(mean), 1e-12))
    return names, np.array(rows, dtype=np.float32).reshape(len(rows), DIM)


@daily_asset(
    table="ml.user_text_profile",
    deps=["text_embeddings"],
    group_name="text",
    kinds={"duckdb"},
)
def user_text_profile(context: dg.AssetExecutionContext, config: UserTextProfileConfig,
                      warehouse: DuckDBResource) -> dg.MaterializeResult:
    """ml.user_text_profile: per user with text activity in the last `window_days`, the
    recency-weighted mean embedding of their queries, reviews and the products they touched
    (L2-normalised), and their top interests in words: the nearest category prototypes, or,
    where the catalogue has no categories, the nearest product-text clusters (named by their
    most distinctive title words). Metadata ``interest_source`` says which."""
    days = list(context.partition_keys)
    per_day = []
    log = day_logger(context, days)
    with warehouse.get_connection() as con:
        version, _ = encoder_in_use(con)
        cache, clusters = VectorCache(version), ClusterCache()
        for day in days:
            out = build_user_text_profile(con, day, version, config, cache, clusters)
            per_day.append([day, out["users"], out["occurrences"], out["interest_source"],
                            out["prototypes"]])
            passes = f", window read in {out['passes']} passes" if out["passes"] > 1 else ""
            log(day, f"{out['users']:,} users, {out['prototypes']} prototypes "
                     f"({out['interest_source']}){passes}")
        preview = preview_file(con, "preview_user_text_profile", day=days[-1])
    if per_day[-1][4] == 0:
        context.log.warning("No product texts embedded yet: top interests are empty.")
    sources = sorted({r[3] for r in per_day})
    return dg.MaterializeResult(metadata={
        "model_version": version,
        "dagster/row_count": sum(r[1] for r in per_day),
        "window_days": config.window_days,
        "half_life_days": config.half_life_days,
        "interest_source": ", ".join(sources),
        "interest_prototypes": dg.MetadataValue.json(out["prototype_names"][:MAX_CLUSTERS]),
        "per_day": table_value(
            ["day", "users", "user-text pairs", "interest source", "prototypes"], per_day),
        "preview": preview,
    })
