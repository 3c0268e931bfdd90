"""Text encoder benchmark: texts/s of the project's encoder against sentence-transformers'
encode() on the same weights, texts and thread count, in the same run; with no duplicates and
with a realistic 60% duplicate rate; and fine-tuning time per 1k examples.

Fine-tuning quality on real or order-shaped text (each replaces the speed benchmark):

    .venv/bin/python bench/text.py --reviews PATH/amazon_all_beauty_5.json.gz
        real reviews (Amazon "All Beauty" 5-core): rating bands (class-balanced probe,
        macro-F1) and review title → review text pairs (retrieval recall@k, time split),
        frozen vs fine-tuned per task, the max_length chosen and the token-length spread
    .venv/bin/python bench/text.py --orders [--users 1500 --products 600 --days 60]
        an order-line export (profile `orders`: product descriptions and invoices, no
        categories, reviews or searches) through the text_encoder asset itself: frozen vs
        fine-tuned co-occurrence retrieval recall@k

The reference runs in a separate environment (sentence-transformers needs PyTorch, which the
project does not install):

    python3 -m venv .venv-bench
    .venv-bench/bin/pip install torch==2.13.0 sentence-transformers

    .venv/bin/python bench/text.py [--texts 4000] [--threads 2]
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The reference side, run by the bench environment's Python: sentence-transformers' own
# pipeline (tokenize, BERT, pooling, normalise) on the packaged folder; optionally also the
# project's PyTorch backend, which only needs torch + transformers.
REFERENCE = r"""
import json, sys, time, numpy as np, torch
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
texts = json.load(open(args["texts"]))
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(args["model"], device="cpu")
model.encode(texts[:64], batch_size=64)  # warm-up, as for the project's encoder
out = {}
for name, subset in (("unique", texts[:args["unique"]]), ("dup60", texts[args["unique"]:])):
    t = time.perf_counter()
    vectors = model.encode(subset, batch_size=64, convert_to_numpy=True)
    out[name] = {"seconds": time.perf_counter() - t, "texts": len(subset)}
    np.save(args["out"] + f".{name}.npy", vectors)
sys.path.insert(0, args["root"])
from profiling_assets.encoder import TextEncoder
enc = TextEncoder(args["model"], backend="pytorch")
enc.encode(texts[:64])
t = time.perf_counter()
enc.encode(texts[:args["unique"]])
out["project_pytorch_unique"] = {"seconds": time.perf_counter() - t, "texts": args["unique"]}
import sentence_transformers, transformers
out["versions"] = {"torch": torch.__version__, "sentence_transformers": sentence_transformers.__version__,
                   "transformers": transformers.__version__}
print(json.dumps(out))
"""


def demo_texts(n: int, seed: int) -> list[str]:
    """Distinct queries, reviews and product texts from the demo generator, shuffled."""
    import pandas as pd

    from profiling_assets import synthetic

    with tempfile.TemporaryDirectory() as tmp:
        synthetic.generate(Path(tmp), users=10000, products=3000, days=6, start=date(2026, 10, 1),
                           seed=seed, fmt="jsonl")
        texts = set()
        for path in sorted(Path(tmp, "landing", "events").glob("dt=*/events.jsonl")):
            for line in path.read_text().splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # the demo data plants malformed lines
                if isinstance(event, dict):
                    texts |= {event.get("query"), event.get("review_text")} - {None}
        products = pd.read_csv(Path(tmp, "landing", "products", "products.csv"))
    texts |= set((products["title"] + ". " + products["description"]).dropna())
    texts = sorted(t for t in texts if isinstance(t, str) and t.strip())
    rng = np.random.default_rng(seed)
    rng.shuffle(texts)
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} distinct demo texts; ask for fewer")
    return texts[:n]


def with_duplicates(unique: list[str], share: float, seed: int) -> list[str]:
    """As many texts as ``unique`` with ``share`` of them repeats of a smaller distinct set."""
    rng = np.random.default_rng(seed)
    distinct = unique[: int(len(unique) * (1 - share))]
    repeats = [distinct[i] for i in rng.integers(0, len(distinct), len(unique) - len(distinct))]
    texts = distinct + repeats
    rng.shuffle(texts)
    return texts


def project_encode(encoder, texts: list[str]) -> tuple[float, int]:
    """The daily asset's path: normalise, dedupe by hash, encode each distinct text once."""
    from profiling_assets.encoder import normalize_text

    t = time.perf_counter()
    normal = [normalize_text(x) for x in texts]
    index = {}
    for text in normal:
        index.setdefault(hashlib.md5(text.encode()).hexdigest(), text)
    vectors = encoder.encode(list(index.values()))
    lookup = dict(zip(index, range(len(index)), strict=True))
    _ = vectors[[lookup[hashlib.md5(x.encode()).hexdigest()] for x in normal]]
    return time.perf_counter() - t, len(index)


def fine_tune_seconds_per_1k(texts: list[str], threads: int) -> float:
    import pandas as pd

    from profiling_assets.encoder import base_model_path
    from profiling_assets.text_training import FineTuner, prepare_examples

    rows = pd.DataFrame({"task": "category", "source": "query", "text": texts[:512],
                         "label": [f"c{i % 8}" for i in range(512)], "seen": 1})
    ex = prepare_examples(rows, sample_cap=512, eval_share=0.0, seed=0)
    tuner = FineTuner(base_model_path(), ex.labels, max_length=64, learning_rate=1e-4, seed=0)
    tuner.fit(ex.train.head(32), epochs=1, batch_size=32, seed=0)  # trace once
    fit = tuner.fit(ex.train, epochs=1, batch_size=32, seed=0)
    return fit.seconds / len(ex.train) * 1000


def _print_outcome(out, ex, seconds: float) -> None:
    from profiling_assets.text_training import PAIR_TASK, RECALL_AT, weighted

    print(f"\nmax_length chosen: {out.max_length} (saved config: {out.saved_max_length}); "
          f"training-text token lengths: " + ", ".join(f"{k.removeprefix('token_length_')} "
                                                       f"{v:.3g}" for k, v in out.lengths.items()))
    print(f"training: {len(ex.train):,} texts, {len(ex.pairs_train):,} pairs per epoch "
          f"(budgets {ex.budgets}); {out.fit.steps} steps in {out.fit.seconds:.0f} s on "
          f"{out.fit.device}; pair split: {ex.pair_split}")
    print("\n| task | held out | measure | frozen | fine-tuned | gain | detail |")
    print("|---|---|---|---|---|---|---|")
    for task, n in out.sizes.items():
        f, t = out.frozen[task], out.tuned[task]
        if task == PAIR_TASK:
            measure = "mean recall@1/5/10"
            detail = ", ".join(f"R@{k} {f[f'recall_at_{k}']:.3f} → {t[f'recall_at_{k}']:.3f}"
                               for k in RECALL_AT)
        else:
            measure = "macro-F1, balanced probe"
            detail = (f"accuracy {f['accuracy']:.3f} → {t['accuracy']:.3f}; fine-tuned head "
                      f"macro-F1 {out.heads.get(task, {}).get('macro_f1', float('nan')):.3f}")
        print(f"| {task} | {n:,} | {measure} | {f['score']:.3f} | {t['score']:.3f} | "
              f"{t['score'] - f['score']:+.3f} | {detail} |")
    print(f"\nweighted by held-out size: frozen {weighted(out.frozen, out.sizes):.3f}, fine-tuned "
          f"{weighted(out.tuned, out.sizes):.3f}, gain {out.gain:+.4f} -> beats_frozen "
          f"{'passes' if out.gain > 0 else 'fails'}; {seconds:.0f} s in all")


def review_examples(path: Path, sample_cap: int, eval_share: float, seed: int, min_pairs: int):
    """Reviews as the asset sees them: review text -> rating band, and review title -> review
    text as pairs first seen on the review's day."""
    import gzip

    import pandas as pd

    from profiling_assets.text_training import prepare_examples

    with gzip.open(path, "rt") as fh:
        reviews = pd.DataFrame([json.loads(line) for line in fh])
    reviews = reviews.dropna(subset=["reviewText", "overall"])
    band = pd.cut(reviews["overall"], [0, 2, 3, 5], labels=["negative", "mixed", "positive"])
    rows = pd.DataFrame({"task": "rating_band", "source": "review", "text": reviews["reviewText"],
                         "label": band.astype(str), "seen": 1})
    titled = reviews.dropna(subset=["summary"])
    pairs = pd.DataFrame({"kind": "title", "text_a": titled["summary"], "text_b": titled["reviewText"],
                          "first_day": pd.to_datetime(titled["unixReviewTime"], unit="s").dt.normalize(),
                          "seen": 1})
    ex = prepare_examples(rows, sample_cap=sample_cap, eval_share=eval_share, seed=seed,
                          pairs=pairs, min_pairs=min_pairs)
    return reviews, ex


def bench_reviews(args) -> None:
    from transformers import AutoTokenizer

    from profiling_assets.encoder import base_model_path, normalize_text
    from profiling_assets.text_training import fine_tune_and_score, token_lengths

    started = time.perf_counter()
    reviews, ex = review_examples(Path(args.reviews), args.sample_cap, 0.2, args.seed, args.min_pairs)
    distinct = sorted({normalize_text(t) for t in reviews["reviewText"]} - {""})
    lengths = token_lengths(AutoTokenizer.from_pretrained(str(base_model_path())), distinct)
    print(f"{len(reviews):,} reviews, {len(distinct):,} distinct review texts; tasks {ex.tasks()}")
    print("token lengths of the distinct review texts: "
          + ", ".join(f"p{q} {np.percentile(lengths, q):.0f}" for q in (50, 75, 90, 95, 99))
          + f", max {lengths.max()}; longer than 64: {(lengths > 64).mean():.0%}, than 128: "
          f"{(lengths > 128).mean():.0%}, than 256: {(lengths > 256).mean():.0%}")
    with tempfile.TemporaryDirectory() as tmp:
        def write(save):
            folder = Path(tmp, "encoder")
            folder.mkdir()
            save(folder)
            return folder

        out = fine_tune_and_score(ex, write=write, max_length=args.max_length, epochs=args.epochs,
                                  batch_size=args.batch_size, learning_rate=1e-4, seed=args.seed,
                                  log=print)
    _print_outcome(out, ex, time.perf_counter() - started)


def bench_orders(args) -> None:
    """The text_encoder asset on a generated order-line export, in a temporary warehouse."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PROFILING_DATA_DIR"] = tmp
        os.environ["PROFILING_WAREHOUSE"] = str(Path(tmp, "bench.duckdb"))
        start = date(2025, 10, 1)
        os.environ["PROFILING_START_DATE"] = start.isoformat()
        import dagster as dg

        from profiling_assets import cleaning, ingest, synthetic, text
        from profiling_assets.metadata import table_markdown
        from profiling_assets.resources import pipeline_resources

        synthetic.generate_orders(Path(tmp), users=args.users, products=args.products,
                                  days=args.days, start=start, seed=args.seed)
        resources = pipeline_resources()
        instance = dg.DagsterInstance.ephemeral()
        assets = [ingest.raw_users, ingest.raw_products, ingest.raw_events, cleaning.cleaned_events,
                  text.text_encoder]
        # the range ends on the last trading day (a closed day has no landing folder)
        last = max(date.fromisoformat(p.name.removeprefix("dt="))
                   for p in Path(tmp, "landing", "events").glob("dt=*"))
        span = {"dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat()}
        dg.materialize(assets, selection=["raw_users", "raw_products"], resources=resources,
                       instance=instance)
        dg.materialize(assets, selection=["raw_events", "cleaned_events"], resources=resources,
                       instance=instance, tags=span)
        ingested = time.perf_counter()
        config = {"sample_cap": args.sample_cap, "epochs": args.epochs, "seed": args.seed,
                  "batch_size": args.batch_size, "max_length": args.max_length,
                  "min_pairs": args.min_pairs}
        result = dg.materialize(assets, selection=["text_encoder"], resources=resources,
                                instance=instance, raise_on_error=False,
                                run_config={"ops": {"text_encoder": {"config": config}}})
        meta = result.asset_materializations_for_node("text_encoder")
        if not meta:
            failure = [e for e in result.all_events if e.is_step_failure]
            raise SystemExit(failure[0].event_specific_data.error.message if failure else "failed")
        meta = {k: getattr(v, "value", v) for k, v in meta[0].metadata.items()}
    print(f"orders profile: {args.users:,} customers, {args.products:,} products, {args.days} days "
          f"(ingest {ingested - started:.0f} s, text_encoder {time.perf_counter() - ingested:.0f} s)")
    for key in ("tasks", "max_length", "token_lengths", "pair_split", "sample_budgets", "steps",
                "fit_seconds", "frozen_score", "score", "gain", "status"):
        print(f"{key}: {meta.get(key)}")
    print(table_markdown(meta["examples"]))
    print(table_markdown(meta["evaluation"]))
    print({c.check_name: c.passed for c in result.get_asset_check_evaluations()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", help="a reviews .json.gz (Amazon 5-core layout): fine-tune "
                        "and score on it instead of the speed benchmark")
    parser.add_argument("--orders", action="store_true",
                        help="fine-tune and score on a generated order-line export")
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--products", type=int, default=600)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--sample-cap", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=0, help="0: chosen from the texts")
    parser.add_argument("--min-pairs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--texts", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--bench-python", default=os.environ.get(
        "BENCH_PYTHON", str(ROOT / ".venv-bench" / "bin" / "python")))
    parser.add_argument("--skip-fine-tune", action="store_true")
    args = parser.parse_args()

    import tensorflow as tf

    if args.reviews or args.orders:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        bench_reviews(args) if args.reviews else bench_orders(args)
        return

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from profiling_assets.encoder import TextEncoder, base_model_path

    unique = demo_texts(args.texts, seed=11)
    dup60 = with_duplicates(unique, 0.6, seed=12)
    print(f"{len(unique):,} texts (demo queries, reviews, product texts); threads {args.threads}")

    encoder = TextEncoder()
    encoder.encode(unique[:64])  # trace the graph once, as a long-running asset would
    ours = {}
    for name, texts in (("unique", unique), ("dup60", dup60)):
        seconds, encoded = project_encode(encoder, texts)
        ours[name] = {"seconds": seconds, "texts": len(texts), "encoded": encoded}

    ref = None
    if Path(args.bench_python).exists():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "texts.json")
            path.write_text(json.dumps(unique + dup60))
            spec = {"threads": args.threads, "texts": str(path), "unique": len(unique),
                    "model": str(base_model_path()), "out": str(Path(tmp, "ref")), "root": str(ROOT)}
            proc = subprocess.run([args.bench_python, "-c", REFERENCE, json.dumps(spec)],
                                  capture_output=True, text=True, check=False,
                                  env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if proc.returncode:
                print(proc.stderr[-3000:])
                raise SystemExit("reference run failed")
            ref = json.loads(proc.stdout.strip().splitlines()[-1])
            ref_vectors = np.load(Path(tmp, "ref.unique.npy"))
        cosine = float((encoder.encode(unique[:500]) * ref_vectors[:500]).sum(1).min())
    else:
        print(f"No reference environment at {args.bench_python}; create it as the module "
              "docstring says to print the sentence-transformers column.")

    print()
    print("| case | project texts/s (TensorFlow) | sentence-transformers texts/s | ratio |")
    print("|---|---|---|---|")
    for name, label in (("unique", "0% duplicates"), ("dup60", "60% duplicates")):
        o = ours[name]["texts"] / ours[name]["seconds"]
        r = ref[name]["texts"] / ref[name]["seconds"] if ref else float("nan")
        print(f"| {label} ({ours[name]['texts']:,} texts, {ours[name]['encoded']:,} encoded) "
              f"| {o:,.0f} | {r:,.0f} | {o / r:.2f}x |")
    if ref:
        p = ref["project_pytorch_unique"]
        print(f"\nProject encoder, PyTorch backend, 0% duplicates: {p['texts'] / p['seconds']:,.0f} texts/s")
        print(f"Lowest cosine, project (TF) vs reference, first 500 texts: {cosine:.6f}")
        print(f"Reference versions: {ref['versions']}")
    if not args.skip_fine_tune:
        print(f"Fine-tuning (CPU, batch 32, max length 64): "
              f"{fine_tune_seconds_per_1k(unique, args.threads):.1f} s per 1k examples")


if __name__ == "__main__":
    main()
