"""Factor benchmark: the project's SVD recommender against popularity and the `implicit`
library's ALS on a synthetic 100k users x 20k items matrix with about 5M interactions.

    .venv/bin/python bench/factors.py [--users 100000] [--items 20000] [--interactions 5000000]
                                      [--k 32] [--als-python .venv-bench/bin/python]

The matrix is drawn directly with numpy (no pipeline): items belong to topics, each user
likes one to three topics, and 15% of events follow global popularity. Every event has a
type (view/cart/purchase) and a day 0..27; the split is the pipeline's: train on days < 25
with the svd_model weighting (type weights, 14-day half-life decay, log1p), test on the
purchases of days >= 25 that the user had not bought in training. SVD and popularity run
here with the project's own code (profiling_assets.factorization); ALS runs in a subprocess of a
separate environment (implicit is not a project dependency), reading the split from a
temporary .npz, so the figures below come from one run on one split:

    python3 -m venv .venv-bench && .venv-bench/bin/pip install implicit numpy scipy

(or set FACTORS_BENCH_PYTHON / --als-python to another interpreter that has implicit).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Self

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
DAYS, SPLIT_DAY, HALF_LIFE = 28, 25, 14.0
TYPE_WEIGHTS = np.array([1.0, 3.0, 5.0])  # view, cart, purchase (DEFAULT_WEIGHTS)
TYPE_SHARES = [0.7, 0.2, 0.1]
PURCHASE = 2


class PeakRss:
    """Peak resident memory of this process while the block runs (sampled every 20 ms)."""

    def __init__(self) -> None:
        import psutil

        self.proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> Self:
        self.start = self.peak = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def generate(users: int, items: int, interactions: int, seed: int):
    """(user, item, type, day) arrays with topic structure and a long-tailed popularity."""
    rng = np.random.default_rng(seed)
    topics = max(10, items // 200)
    per_topic = items // topics
    zipf_in_topic = np.cumsum(1 / np.arange(1, per_topic + 1) ** 0.8)
    zipf_in_topic /= zipf_in_topic[-1]
    topic_pop = 1 / np.arange(1, topics + 1) ** 0.7
    topic_pop /= topic_pop.sum()
    # users: one to three topics with decreasing weight; activity log-normal
    liked = rng.choice(topics, (users, 3), p=topic_pop)
    activity = rng.lognormal(0, 1.0, users)
    counts = rng.multinomial(interactions, activity / activity.sum())
    user = np.repeat(np.arange(users, dtype=np.int32), counts)
    n = len(user)
    slot = np.searchsorted(np.cumsum([0.6, 0.3, 0.1]), rng.random(n), side="right").clip(0, 2)
    topic = liked[user, slot]
    item = topic * per_topic + np.searchsorted(zipf_in_topic, rng.random(n)).clip(0, per_topic - 1)
    noise = rng.random(n) < 0.15
    global_zipf = np.cumsum(1 / np.arange(1, topics * per_topic + 1) ** 0.9)
    item[noise] = np.searchsorted(global_zipf / global_zipf[-1], rng.random(noise.sum()))
    item = rng.permutation(items)[item.clip(0, items - 1)].astype(np.int32)  # ids carry no order
    etype = rng.choice(3, n, p=TYPE_SHARES).astype(np.int8)
    day = rng.integers(0, DAYS, n).astype(np.int16)
    return user, item, etype, day


def split(user, item, etype, day, users: int, items: int):
    """Train matrix (weighted as svd_model does), train purchases, and the hold-out truth."""
    tr = day < SPLIT_DAY
    w = TYPE_WEIGHTS[etype[tr]] * 0.5 ** ((SPLIT_DAY - 1 - day[tr]) / HALF_LIFE)
    X = sp.csr_matrix((w, (user[tr], item[tr])), shape=(users, items))  # duplicates summed
    X.data = np.log1p(np.clip(X.data, 0, None))
    X.eliminate_zeros()
    bought = tr & (etype == PURCHASE)
    P = sp.csr_matrix((np.ones(bought.sum(), bool), (user[bought], item[bought])), shape=(users, items))
    P.data[:] = True
    te = ~tr & (etype == PURCHASE)
    T = sp.csr_matrix((np.ones(te.sum(), bool), (user[te], item[te])), shape=(users, items))
    T.data[:] = True
    T = (T.astype(np.int8) - T.multiply(P).astype(np.int8)).tocsr()  # new purchases only
    T.eliminate_zeros()
    eval_users = np.flatnonzero(np.diff(T.indptr) > 0)
    relevant = [set(T.indices[T.indptr[u]:T.indptr[u + 1]].tolist()) for u in eval_users]
    return X.astype(np.float32).tocsr(), P.tocsr(), eval_users, relevant


def run_als(python: str, X: sp.csr_matrix, P: sp.csr_matrix, eval_users: np.ndarray, k: int,
            iterations: int, alpha: float) -> dict | None:
    with tempfile.TemporaryDirectory(prefix="bench-factors-") as tmp:
        data, out = Path(tmp) / "split.npz", Path(tmp) / "als.npz"
        np.savez(data, x_data=X.data, x_indices=X.indices, x_indptr=X.indptr, shape=X.shape,
                 p_data=P.data, p_indices=P.indices, p_indptr=P.indptr, eval_users=eval_users,
                 k=k, iterations=iterations, alpha=alpha)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        proc = subprocess.run([python, __file__, "--als-worker", str(data), str(out)], env=env,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"ALS subprocess failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            return None
        with np.load(out) as z:
            return {"recs": z["recs"], **json.loads(str(z["info"]))}


def _vm_hwm_mb() -> float:
    """This process's peak RSS since exec (ru_maxrss would carry the parent's from the fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def als_worker(data: Path, out: Path) -> None:
    """Runs in the bench environment: only numpy, scipy and implicit are importable."""
    from implicit.cpu.als import AlternatingLeastSquares

    z = np.load(data)
    shape = tuple(z["shape"])
    X = sp.csr_matrix((z["x_data"], z["x_indices"], z["x_indptr"]), shape=shape)
    P = sp.csr_matrix((z["p_data"].astype(np.float32), z["p_indices"], z["p_indptr"]), shape=shape)
    users = z["eval_users"]
    model = AlternatingLeastSquares(factors=int(z["k"]), regularization=0.05, alpha=float(z["alpha"]),
                                    iterations=int(z["iterations"]), random_state=0,
                                    num_threads=os.cpu_count() or 1)
    started = time.perf_counter()
    model.fit(X, show_progress=False)  # confidence = 1 + alpha * x on the same log1p weights
    fit = time.perf_counter() - started
    started = time.perf_counter()
    # the same exclusion rule: the user's training purchases only
    recs, _ = model.recommend(users, P[users], N=10, filter_already_liked_items=True)
    rec_seconds = time.perf_counter() - started
    info = {"fit_seconds": fit, "rec_seconds": rec_seconds,
            "peak_rss_mb": _vm_hwm_mb()}
    np.savez(out, recs=recs, info=json.dumps(info))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--interactions", type=int, default=5_000_000)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--als-iterations", type=int, default=15)
    parser.add_argument("--als-alpha", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--als-python", default=os.environ.get(
        "FACTORS_BENCH_PYTHON", str(ROOT / ".venv-bench" / "bin" / "python")))
    parser.add_argument("--als-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.als_worker:
        als_worker(*args.als_worker)
        return

    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore")  # dagster's beta notices on import of the asset module
    from profiling_assets.factorization import (
        coverage,
        fit_svd,
        popularity_scores,
        ranking_metrics,
        top_n,
    )

    started = time.perf_counter()
    user, item, etype, day = generate(args.users, args.items, args.interactions, args.seed)
    X, P, eval_users, relevant = split(user, item, etype, day, args.users, args.items)
    del user, item, etype, day
    print(f"matrix: {args.users:,} users x {args.items:,} items, {args.interactions:,} events -> "
          f"{X.nnz:,} train cells; {len(eval_users):,} hold-out users with new purchases "
          f"({time.perf_counter() - started:.1f}s to generate)", flush=True)

    rows = []
    pop = popularity_scores(P, X)
    excl = P[eval_users]
    started = time.perf_counter()
    idx, _ = top_n(lambda lo, hi: np.broadcast_to(pop, (hi - lo, len(pop))), excl, 10)
    rows.append(("popularity", None, None, ranking_metrics(idx.tolist(), relevant),
                 coverage(idx.tolist(), args.items), time.perf_counter() - started))

    with PeakRss() as mem:
        started = time.perf_counter()
        f = fit_svd(X, args.k, seed=args.seed)
        svd_fit = time.perf_counter() - started
        started = time.perf_counter()
        U_all = f.fold_in(X)  # every training user, as user_factors does for a day's users
        fold_seconds = time.perf_counter() - started
        started = time.perf_counter()
        U = f.fold_in(X[eval_users])
        idx, _ = top_n(lambda lo, hi: f.scores(U[lo:hi], np.float32), excl, 10)
        rec_seconds = time.perf_counter() - started
    del U_all
    print(f"svd: process RSS {mem.start / 2**20:,.0f} MB before the fit (Python, dagster imports, "
          f"the matrix), peak {mem.peak / 2**20:,.0f} MB during fit + fold-in + ranking", flush=True)
    rows.append((f"svd k={f.k} (this project)", svd_fit, mem.peak / 2**20,
                 ranking_metrics(idx.tolist(), relevant), coverage(idx.tolist(), args.items),
                 rec_seconds))
    print(f"svd: fit {svd_fit:.1f}s; fold-in {args.users / fold_seconds:,.0f} users/s; "
          f"fold-in + score + top-10 over {args.items:,} items {len(eval_users) / rec_seconds:,.0f} "
          f"users/s", flush=True)

    if Path(args.als_python).exists():
        als = run_als(args.als_python, X, P, eval_users, args.k, args.als_iterations, args.als_alpha)
        if als:
            recs = [[j for j in r if j >= 0] for r in als["recs"].tolist()]
            rows.append((f"implicit ALS k={args.k}, {args.als_iterations} it", als["fit_seconds"],
                         als["peak_rss_mb"], ranking_metrics(recs, relevant), coverage(recs, args.items),
                         als["rec_seconds"]))
    else:
        print(f"\nALS reference skipped: no interpreter at {args.als_python}. Create it with\n"
              "    python3 -m venv .venv-bench && .venv-bench/bin/pip install implicit numpy scipy\n"
              "or point --als-python / FACTORS_BENCH_PYTHON at one that has implicit.\n")

    print(f"\n{'recommender':34} {'fit s':>7} {'peak RSS MB':>11} {'recall@10':>9} {'NDCG@10':>8} "
          f"{'coverage':>8} {'rank s':>7}")
    for name, fit, rss, m, cov, rank_s in rows:
        print(f"{name:34} {'' if fit is None else f'{fit:7.1f}':>7} "
              f"{'' if rss is None else f'{rss:11.0f}':>11} {m['recall']:9.4f} {m['ndcg']:8.4f} "
              f"{cov:8.3f} {rank_s:7.1f}")
    print("\npeak RSS: svd row = this process during fit + fold-in + ranking (includes the matrix); "
          "ALS row = the subprocess's maximum.")


if __name__ == "__main__":
    main()
