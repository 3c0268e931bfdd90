"""Text encoder benchmark: texts/s of the project's encoder against sentence-transformers'
encode() on the same weights, texts and thread count, in the same run; with no duplicates and
with a realistic 60% duplicate rate; and fine-tuning time per 1k examples.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--bench-python", default=os.environ.get(
        "BENCH_PYTHON", str(ROOT / ".venv-bench" / "bin" / "python")))
    parser.add_argument("--skip-fine-tune", action="store_true")
    args = parser.parse_args()

    import tensorflow as tf

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
