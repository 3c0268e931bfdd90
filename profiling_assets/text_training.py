"""Fine-tuning the packaged BERT on signals the event data carries itself, and the honest
comparison against the frozen model.

Tasks (one shared encoder, trained together):
- ``category`` (classification head): a search query → the category of the first catalogue
  product its session touches next; a product's title and description → its category.
- ``rating_band`` (classification head): a review text → negative (1-2 stars), mixed (3) or
  positive (4-5).
- ``pairs`` (contrastive, no labels): two product texts touched in the same session/invoice
  or by the same user on the same day, and a search query with the product it led to. Every
  event log has these, so an order export without categories or reviews can still fine-tune.

Heads and the contrastive loss read the same mean-pooled sentence vector that inference
produces, so fine-tuning shapes exactly the embeddings the daily assets store.

Evaluation scores every encoder (frozen base, fine-tuned, production) with one protocol on
the same held-out data and the same ``max_length``: a class-balanced logistic regression on
its embeddings (macro-F1) per classification task, paired-text retrieval recall@k for pairs.
"""

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from profiling_assets.encoder import (
    DEFAULT_MAX_LENGTH,
    TextEncoder,
    copy_model_files,
    normalize_text,
    save_tf_weights,
)

TASKS = ("category", "rating_band")   # classification tasks
PAIR_TASK = "pairs"                   # the contrastive task
OBJECTIVES = {"class": "classification heads", "pair": "pairs (contrastive)"}  # fit's step kinds
HEADS_FILE = "heads.npz"
LABELS_FILE = "labels.json"
SENTENCE_CONFIG = "sentence_bert_config.json"
# max_length: the 95th percentile of the training texts' token counts, rounded up to a
# multiple of 32 (few distinct shapes, and a text just over a round length keeps its tail),
# between 32 and 256 (the base model's length).
LENGTH_QUANTILE, LENGTH_MULTIPLE = 0.95, 32
# The pair task trains only with this many training pairs (a few dozen batches: on fewer,
# fine-tuning the whole encoder mostly memorises them — 829 pairs of a 16-day order sample
# gained 0.008 recall — and still costs minutes on a CPU), and is scored only with this many
# held out.
MIN_TRAIN_PAIRS, MIN_HELDOUT_PAIRS = 1000, 10
HELDOUT_PAIR_CAP = 1000               # held-out pairs scored (retrieval cost grows with the square)
RECALL_AT = (1, 5, 10)


@dataclass
class Examples:
    """Distinct labelled texts and text pairs, split into training and held-out parts."""
    train: pd.DataFrame
    test: pd.DataFrame
    labels: dict[str, list[str]]
    dropped: dict[str, int] = field(default_factory=dict)
    pairs_train: pd.DataFrame = field(default_factory=lambda: empty_pairs())
    pairs_test: pd.DataFrame = field(default_factory=lambda: empty_pairs())
    pair_split: str = "none"          # "time (held out from DATE)", "random" or "none"
    budgets: dict[str, int] = field(default_factory=dict)
    min_pairs: int = MIN_TRAIN_PAIRS
    pair_task: bool = False           # enough pairs to train and score (decided before the cap)

    def classification_tasks(self) -> list[str]:
        """Tasks with two labels to learn and held-out texts to score."""
        return [t for t in TASKS if self.train.loc[self.train["task"] == t, "y"].nunique() >= 2
                and (self.test["task"] == t).any()]

    def has_pairs(self) -> bool:
        return self.pair_task and len(self.pairs_train) > 0 and len(self.pairs_test) > 0

    def tasks(self) -> list[str]:
        return self.classification_tasks() + ([PAIR_TASK] if self.has_pairs() else [])

    def heldout_sizes(self) -> dict[str, int]:
        """Held-out items per task: the weights of the promotion rule."""
        sizes = {t: int((self.test["task"] == t).sum()) for t in self.classification_tasks()}
        if self.has_pairs():
            sizes[PAIR_TASK] = len(self.pairs_test)
        return sizes

    def training_texts(self) -> list[str]:
        return (self.train["text"].tolist() + self.pairs_train["text_a"].tolist()
                + self.pairs_train["text_b"].tolist())

    def why_nothing_to_learn(self) -> str:
        """Each task's reason for not training, in words (for a refusal)."""
        reasons = []
        no_categories = ("no category labels (no catalogue categories, or no searches "
                         "followed by a categorised product)")
        for task, what in (("category", no_categories), ("rating_band", "no rated reviews")):
            found = self.train.loc[self.train["task"] == task, "y"].nunique()
            if found == 0:
                reasons.append(what)
            elif task not in self.classification_tasks():
                reasons.append(f"{task}: {found} label(s) or no held-out texts (needs 2 labels "
                               "with 2+ texts each)")
        reasons.append(
            f"fewer co-occurring text pairs than needed: {self.dropped.get('distinct_pairs', 0):,} "
            f"distinct pairs of products bought or viewed together or of a query and its product "
            f"({len(self.pairs_train):,} to train, {len(self.pairs_test):,} held out; needs "
            f"{self.min_pairs:,} and {MIN_HELDOUT_PAIRS})")
        return "; ".join(reasons)


def empty_pairs() -> pd.DataFrame:
    return pd.DataFrame({"kind": pd.Series(dtype=object), "text_a": pd.Series(dtype=object),
                         "text_b": pd.Series(dtype=object),
                         "first_day": pd.Series(dtype="datetime64[ns]"),
                         "seen": pd.Series(dtype=np.int64)})


def _water_fill(sizes: dict, budget: int) -> dict:
    """Equal shares of ``budget``; a group smaller than its share keeps all it has and passes
    the rest on to the larger ones."""
    alloc, left = {}, budget
    order = sorted(sizes, key=lambda k: (sizes[k], str(k)))
    for i, key in enumerate(order):
        alloc[key] = min(sizes[key], left // (len(order) - i))
        left -= alloc[key]
    return alloc


def _label_quotas(sizes: dict[str, int], budget: int) -> dict[str, int]:
    """Half of a task's budget is spread evenly over its labels (a floor per label, so a rare
    label is not left with a handful of texts); the other half follows the labels' sizes."""
    if sum(sizes.values()) <= budget:
        return dict(sizes)
    floor = _water_fill(sizes, budget // 2)
    rest = {k: sizes[k] - floor[k] for k in sizes}
    left, total = budget - sum(floor.values()), max(1, sum(rest.values()))
    return {k: floor[k] + min(rest[k], int(left * rest[k] / total)) for k in sizes}


def prepare_pairs(pairs: pd.DataFrame | None) -> pd.DataFrame:
    """Normalised, distinct text pairs: basket pairs are unordered (stored smaller text first),
    query pairs go query → product; a pair of identical texts says nothing and is dropped."""
    if pairs is None or pairs.empty:
        return empty_pairs()
    a, b = pairs["text_a"].map(normalize_text), pairs["text_b"].map(normalize_text)
    basket = (pairs["kind"] == "basket").to_numpy()
    swap = basket & (a > b).to_numpy()
    df = pd.DataFrame({"kind": pairs["kind"].to_numpy(),
                       "text_a": np.where(swap, b, a), "text_b": np.where(swap, a, b),
                       "first_day": pd.to_datetime(pairs["first_day"]),
                       "seen": pairs["seen"].astype(np.int64).to_numpy()})
    df = df[(df["text_a"] != "") & (df["text_b"] != "") & (df["text_a"] != df["text_b"])]
    return (df.groupby(["kind", "text_a", "text_b"], as_index=False)
            .agg(first_day=("first_day", "min"), seen=("seen", "sum"))
            .sort_values(["kind", "text_a", "text_b"]).reset_index(drop=True))


def split_pairs(pairs: pd.DataFrame, eval_share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Held-out pairs are those first seen on the last days of the window (about ``eval_share``
    of the days; the model is asked to predict co-occurrences it has not seen yet); with a
    single day of data, a random ``eval_share`` of the pairs."""
    if pairs.empty or eval_share <= 0:
        return pairs, pairs.iloc[:0], "none"
    days = np.sort(pairs["first_day"].unique())
    if len(days) >= 2:
        held_days = max(1, math.ceil(len(days) * eval_share))
        cutoff = days[len(days) - held_days]
        held = (pairs["first_day"] >= cutoff).to_numpy()
        how = f"time (held out: pairs first seen from {pd.Timestamp(cutoff).date()})"
    else:
        held = np.random.default_rng(seed).random(len(pairs)) < eval_share
        how = "random (one day of data)"
    test = pairs[held]
    if len(test) > HELDOUT_PAIR_CAP:
        test = test.sample(HELDOUT_PAIR_CAP, random_state=seed)
    return pairs[~held].reset_index(drop=True), test.reset_index(drop=True), how


def prepare_examples(rows: pd.DataFrame, *, sample_cap: int, eval_share: float, seed: int,
                     pairs: pd.DataFrame | None = None,
                     min_pairs: int = MIN_TRAIN_PAIRS) -> Examples:
    """One example per (task, normalised text) with its majority label; a stratified split of
    distinct texts (a text is in training or held out, never both); pairs split by time.

    At most ``sample_cap`` training texts per epoch: equal shares per task (a small task keeps
    all it has and passes the rest on; a pair costs two texts), and within a task half the
    share spread evenly over labels, half following the labels' sizes."""
    rng = np.random.default_rng(seed)
    normal = rows.assign(text=rows["text"].map(normalize_text))
    empty = int((normal["text"] == "").sum())
    normal = normal[normal["text"] != ""]
    df = (normal.groupby(["task", "text", "label"], as_index=False)["seen"].sum()
          .sort_values(["task", "text", "seen", "label"], ascending=[True, True, False, True])
          .drop_duplicates(["task", "text"]))
    sources = normal.drop_duplicates(["task", "text"])[["task", "text", "source"]]
    df = df.merge(sources, on=["task", "text"], how="left")
    labels = {t: sorted(df.loc[df["task"] == t, "label"].unique()) for t in TASKS}
    df["y"] = [labels[t].index(lab) for t, lab in zip(df["task"], df["label"], strict=True)]
    df["r"] = rng.random(len(df))
    # Stratified: within each (task, label), the lowest random draws are held out.
    rank = df.groupby(["task", "label"])["r"].rank(method="first")
    size = df.groupby(["task", "label"])["r"].transform("size")
    held = (rank <= np.floor(size * eval_share)) & (size >= 2)
    train, test = df[~held], df[held]

    distinct_pairs = prepare_pairs(pairs)
    pair_train, pair_test, how = split_pairs(distinct_pairs, eval_share, seed)
    if len(pair_train) < min_pairs or len(pair_test) < MIN_HELDOUT_PAIRS:
        pair_train_n = 0   # too few to learn from or to score: the task is left out
    else:
        pair_train_n = len(pair_train)
    sizes = {t: int((train["task"] == t).sum()) for t in TASKS if (train["task"] == t).any()}
    if pair_train_n:
        sizes[PAIR_TASK] = 2 * pair_train_n
    budgets = _water_fill(sizes, sample_cap)
    parts = []
    for task in TASKS:
        part = train[train["task"] == task]
        if part.empty:
            continue
        quotas = _label_quotas(part.groupby("label").size().to_dict(), budgets[task])
        rank = part.groupby("label")["r"].rank(method="first")
        parts.append(part[rank <= part["label"].map(quotas)])
    train = pd.concat(parts) if parts else train.iloc[:0]
    if pair_train_n and budgets[PAIR_TASK] // 2 < len(pair_train):
        pair_train = pair_train.sample(budgets[PAIR_TASK] // 2, random_state=seed)
    return Examples(train.drop(columns="r").reset_index(drop=True),
                    test.drop(columns="r").reset_index(drop=True), labels,
                    {"empty_texts": empty, "distinct_pairs": len(distinct_pairs)},
                    pair_train.reset_index(drop=True),
                    pair_test.reset_index(drop=True), how,
                    {t: (b // 2 if t == PAIR_TASK else b) for t, b in budgets.items()}, min_pairs,
                    bool(pair_train_n))


def token_lengths(tokenizer, texts: list[str]) -> np.ndarray:
    """Tokens per text with the special tokens, untruncated."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()   # "longer than the maximum" is what is being measured
    if not texts:
        return np.zeros(0, dtype=np.int64)
    ids = tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
    return np.array([len(i) for i in ids], dtype=np.int64)


def choose_max_length(lengths: np.ndarray, cap: int = DEFAULT_MAX_LENGTH) -> int:
    """The one sequence length of training, evaluation and daily embeddings (see above)."""
    if len(lengths) == 0:
        return LENGTH_MULTIPLE
    q = float(np.quantile(lengths, LENGTH_QUANTILE))
    return int(min(cap, max(LENGTH_MULTIPLE, math.ceil(q / LENGTH_MULTIPLE) * LENGTH_MULTIPLE)))


def length_summary(lengths: np.ndarray, max_length: int) -> dict[str, float]:
    if len(lengths) == 0:
        return {}
    p = np.percentile(lengths, [50, 90, 95, 99])
    return {"token_length_p50": float(p[0]), "token_length_p90": float(p[1]),
            "token_length_p95": float(p[2]), "token_length_p99": float(p[3]),
            "token_length_max": int(lengths.max()),
            "share_truncated": float((lengths > max_length).mean())}


def scores(y_true, y_pred) -> dict[str, float]:
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0))}


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """A class-balanced logistic regression: on an imbalanced task a plain one predicts the
    majority class and makes any encoder look better than it is."""
    clf = LogisticRegression(max_iter=2000, class_weight="balanced")
    return clf.fit(train_x, train_y).predict(test_x)


def pair_retrieval(vectors: Callable[[list[str]], np.ndarray], test: pd.DataFrame,
                   ranks_out: list | None = None) -> dict[str, float]:
    """Recall@k of held-out pairs: each pair's text retrieves its partner among the held-out
    candidates of its kind (every product text of held-out basket pairs, both directions; every
    product of held-out query pairs, from the query). The query text itself and its other
    partners are not counted as misses."""
    if test.empty:
        return {}
    texts = pd.unique(np.concatenate([test["text_a"].to_numpy(object), test["text_b"].to_numpy(object)]))
    index = {t: i for i, t in enumerate(texts)}
    V = vectors(list(texts))
    ranks, kinds = [], []
    for kind, part in test.groupby("kind"):
        a = part["text_a"].map(index).to_numpy()
        b = part["text_b"].map(index).to_numpy()
        queries, targets = (np.concatenate([a, b]), np.concatenate([b, a])) if kind == "basket" else (a, b)
        candidates = np.unique(targets)
        positives: dict[int, set[int]] = {}
        for q, t in zip(queries, targets, strict=True):
            positives.setdefault(int(q), set()).add(int(t))
        sims = V[queries] @ V[candidates].T
        column = {int(c): j for j, c in enumerate(candidates)}
        for row, (q, t) in enumerate(zip(queries, targets, strict=True)):
            s = sims[row].copy()
            skip = [column[x] for x in positives[int(q)] | {int(q)} if x in column and x != t]
            s[skip] = -np.inf
            ranks.append(int((s > s[column[int(t)]]).sum()))
            kinds.append(kind)
    ranks, kinds = np.array(ranks), np.array(kinds)
    if ranks_out is not None:
        ranks_out.append(ranks)
    out = {f"recall_at_{k}": float((ranks < k).mean()) for k in RECALL_AT}
    out["score"] = float(np.mean([out[f"recall_at_{k}"] for k in RECALL_AT]))
    for kind in np.unique(kinds):
        out[f"{kind}_recall_at_10"] = float((ranks[kinds == kind] < 10).mean())
    out["retrievals"] = len(ranks)
    return out


def evaluate_encoder(encoder: TextEncoder, ex: Examples,
                     items: dict | None = None) -> dict[str, dict[str, float]]:
    """The one protocol for every encoder: per classification task a class-balanced logistic
    regression on its embeddings of the training texts, scored by macro-F1 on the held-out
    texts; for pairs, held-out retrieval recall@k. Each task's ``score`` is its headline.
    ``items`` receives what each score is made of, per held-out item in a fixed order (for
    ``gain_interval``): (true, predicted) labels, or the ranks of the pairs' partners."""
    out = {}
    for task in ex.classification_tasks():
        tr, te = ex.train[ex.train["task"] == task], ex.test[ex.test["task"] == task]
        pred = linear_probe(encoder.encode(tr["text"].tolist()), tr["y"].to_numpy(),
                            encoder.encode(te["text"].tolist()))
        m = scores(te["y"], pred)
        out[task] = {**m, "score": m["macro_f1"]}
        if items is not None:
            items[task] = (te["y"].to_numpy(), np.asarray(pred))
    if ex.has_pairs():
        ranks: list = []
        out[PAIR_TASK] = pair_retrieval(encoder.encode, ex.pairs_test, ranks)
        if items is not None and ranks:
            items[PAIR_TASK] = ranks[0]
    return out


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-F1 over the labels either side holds (scikit-learn's default, zero_division=0)."""
    f1 = []
    for label in np.union1d(y_true, y_pred):
        tp = np.sum((y_true == label) & (y_pred == label))
        denom = np.sum(y_true == label) + np.sum(y_pred == label)
        f1.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f1)) if f1 else 0.0


def _task_score(item, idx: np.ndarray) -> float:
    if isinstance(item, tuple):  # classification: (true, predicted)
        return _macro_f1(item[0][idx], item[1][idx])
    hit = np.mean([item[idx] < k for k in RECALL_AT], axis=0)  # pairs: mean recall@k per item
    return float(hit.mean())


def gain_interval(tuned: dict, frozen: dict, sizes: dict[str, int], *, draws: int = 1000,
                  level: float = 0.90, seed: int = 0) -> tuple[float, float]:
    """The ``level`` interval of the size-weighted gain of ``tuned`` over ``frozen`` (their
    ``evaluate_encoder`` items), resampling each task's held-out items with replacement, the
    same items for both encoders: whether the gain is more than which texts were held out."""
    tasks = [t for t in tuned if t in frozen and sizes.get(t, 0)]
    if not tasks:
        return float("nan"), float("nan")
    total = sum(sizes[t] for t in tasks)
    rng = np.random.default_rng(seed)
    gains = np.zeros(draws)
    for t in tasks:
        n = len(tuned[t][0]) if isinstance(tuned[t], tuple) else len(tuned[t])
        for d in range(draws):
            idx = rng.integers(0, n, n)
            gains[d] += sizes[t] / total * (_task_score(tuned[t], idx) - _task_score(frozen[t], idx))
    tail = (1 - level) / 2
    return float(np.quantile(gains, tail)), float(np.quantile(gains, 1 - tail))


def frozen_baseline(encoder: TextEncoder, ex: Examples) -> dict[str, dict[str, float]]:
    """The frozen base model under the same protocol (build ``encoder`` at the run's length)."""
    return evaluate_encoder(encoder, ex)


def weighted(metrics: dict[str, dict[str, float]], sizes: dict[str, int], key: str = "score",
             tasks: tuple[str, ...] | None = None) -> float:
    """``key`` averaged over tasks weighted by held-out size: a small, noisy task cannot
    outvote a large one."""
    pairs = [(m[key], sizes.get(t, 0)) for t, m in metrics.items()
             if key in m and (tasks is None or t in tasks)]
    total = sum(w for _, w in pairs)
    return float(sum(v * w for v, w in pairs) / total) if total else float("nan")


def weighted_gain(tuned: dict, reference: dict, sizes: dict[str, int]) -> float:
    """Size-weighted mean over tasks of (tuned score − reference score), tasks both scored."""
    common = [t for t in tuned if t in reference]
    total = sum(sizes.get(t, 0) for t in common)
    if not total:
        return float("nan")
    return float(sum(sizes.get(t, 0) * (tuned[t]["score"] - reference[t]["score"])
                     for t in common) / total)


def headline(metrics: dict[str, dict[str, float]], sizes: dict[str, int] | None = None) -> float:
    """Macro-F1 over classification tasks, weighted by held-out size when ``sizes`` is given
    (a plain mean otherwise)."""
    values = {t: m for t, m in metrics.items() if "macro_f1" in m}
    if sizes is None:
        return float(np.mean([m["macro_f1"] for m in values.values()])) if values else float("nan")
    return weighted(values, sizes, "macro_f1")


@dataclass
class FitResult:
    losses: list[float]          # mean training loss per epoch (all objectives)
    first_steps_loss: float      # mean loss over the first steps (classification if trained,
    last_steps_loss: float       # else contrastive), for the "loss went down" view
    steps: int
    seconds: float
    device: str
    mixed_precision: bool
    pair_first_loss: float = float("nan")    # the contrastive objective's own first/last steps
    pair_last_loss: float = float("nan")
    pair_steps: int = 0
    step_losses: list[tuple[str, float]] = field(default_factory=list)  # (objective, loss) per step

    def loss_curves(self) -> dict[str, tuple[list[int], list[float]]]:
        """Per objective, (step numbers, losses): the loss-per-step picture."""
        curves: dict[str, tuple[list[int], list[float]]] = {}
        for step, (kind, loss) in enumerate(self.step_losses, start=1):
            steps, losses = curves.setdefault(OBJECTIVES.get(kind, kind), ([], []))
            steps.append(step)
            losses.append(loss)
        return curves


def _ends(history: list[float]) -> tuple[float, float]:
    if not history:
        return float("nan"), float("nan")
    window = max(1, min(10, len(history) // 3))
    return float(np.mean(history[:window])), float(np.mean(history[-window:]))


def _negative_masks(a_ids: np.ndarray, b_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In-batch negatives that are not negatives: another pair's text equal to this pair's
    partner (the same product twice in a batch) or to the anchor itself. Masked out of the
    softmax in each direction (the diagonal is the positive and stays)."""
    off = ~np.eye(len(a_ids), dtype=bool)
    ab = off & ((b_ids[None, :] == b_ids[:, None]) | (b_ids[None, :] == a_ids[:, None]))
    ba = off & ((a_ids[None, :] == a_ids[:, None]) | (a_ids[None, :] == b_ids[:, None]))
    return ab, ba


class FineTuner:
    """A TF BERT with one classification head per task and a contrastive pair objective, all
    over the mean-pooled vector."""

    def __init__(self, base_path: Path, labels: dict[str, list[str]], *, max_length: int,
                 learning_rate: float, seed: int, temperature: float = 0.05):
        import tensorflow as tf
        import tf_keras
        from transformers import AutoTokenizer, TFAutoModel

        tf.keras.utils.set_random_seed(seed)
        self.tf = tf
        self.gpu = bool(tf.config.list_physical_devices("GPU"))
        self.device = "GPU:0" if self.gpu else "CPU"
        # Half precision only where it pays: on a GPU; the CPU trains in float32.
        if self.gpu:
            tf_keras.mixed_precision.set_global_policy("mixed_float16")
        self.base_path = base_path
        self.labels = labels
        self.max_length = max_length
        self.temperature = temperature
        self.tokenizer = AutoTokenizer.from_pretrained(str(base_path))
        self.bert = TFAutoModel.from_pretrained(str(base_path))
        hidden = self.bert.config.hidden_size
        self.heads = {t: tf_keras.layers.Dense(len(labels[t]), dtype="float32", name=f"head_{t}")
                      for t in TASKS if len(labels.get(t, [])) >= 2}
        for head in self.heads.values():
            head.build((None, hidden))
        self.dropout = tf_keras.layers.Dropout(0.1)
        optimizer = tf_keras.optimizers.Adam(learning_rate)
        self.optimizer = (tf_keras.mixed_precision.LossScaleOptimizer(optimizer) if self.gpu
                          else optimizer)
        # The pooler is not on the mean-pooling path: it gets no gradient, so leave it out.
        self.encoder_variables = [v for v in self.bert.trainable_variables if "/pooler/" not in v.name]
        # Built up front for every variable: the classification and pair steps each touch a
        # subset, and whichever ran first would otherwise build the optimizer for its own only.
        self.optimizer.build(self.encoder_variables
                             + [v for h in self.heads.values() for v in h.trainable_variables])
        self._steps: dict[str, Callable] = {}   # traced once per tuner (tracing BERT takes seconds)

    def _pooled(self, ids, mask, training: bool):
        tf = self.tf
        hidden = self.bert(input_ids=ids, attention_mask=mask, training=training).last_hidden_state
        w = tf.cast(mask, hidden.dtype)[:, :, None]
        return tf.cast(tf.reduce_sum(hidden * w, 1) / tf.maximum(tf.reduce_sum(w, 1), 1e-9),
                       tf.float32)

    def _batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=True,
                             return_tensors="np")
        return enc["input_ids"].astype(np.int32), enc["attention_mask"].astype(np.int32)

    def _apply(self, tape, loss, variables) -> None:
        scaled = self.optimizer.get_scaled_loss(loss) if self.gpu else loss
        grads = tape.gradient(scaled, variables)
        if self.gpu:
            grads = self.optimizer.get_unscaled_gradients(grads)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))

    def _class_step(self):
        tf, heads = self.tf, list(self.heads.values())
        variables = self.encoder_variables + [v for h in heads for v in h.trainable_variables]

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2
                     + [tf.TensorSpec([None], tf.int32)] * 2, reduce_retracing=True)
        def step(ids, mask, labels, task):
            with tf.GradientTape() as tape:
                pooled = self.dropout(self._pooled(ids, mask, True), training=True)
                loss = 0.0
                for i, head in enumerate(heads):
                    sel = tf.equal(task, i)
                    logits = head(tf.boolean_mask(pooled, sel))
                    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
                        labels=tf.boolean_mask(labels, sel), logits=logits)
                    # Each task weighs by its share of the batch, so the sum is a mean over examples.
                    loss += tf.reduce_sum(ce) / tf.cast(tf.maximum(tf.size(labels), 1), tf.float32)
            self._apply(tape, loss, variables)
            return loss
        return step

    def _pair_step(self):
        """Symmetric InfoNCE: cosine similarities of the batch's anchors and partners over a
        temperature; each anchor's partner is its positive, the other partners its negatives,
        in both directions."""
        tf = self.tf
        ids = tf.TensorSpec([None, None], tf.int32)
        masks = tf.TensorSpec([None, None], tf.bool)

        @tf.function(input_signature=[ids, ids, ids, ids, masks, masks], reduce_retracing=True)
        def step(ids_a, mask_a, ids_b, mask_b, skip_ab, skip_ba):
            with tf.GradientTape() as tape:
                a = tf.math.l2_normalize(self._pooled(ids_a, mask_a, True), axis=1)
                b = tf.math.l2_normalize(self._pooled(ids_b, mask_b, True), axis=1)
                logits = tf.matmul(a, b, transpose_b=True) / self.temperature
                target = tf.range(tf.shape(logits)[0])
                ab = tf.where(skip_ab, -1e9, logits)
                ba = tf.where(skip_ba, -1e9, tf.transpose(logits))
                loss = 0.5 * tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=ab)
                    + tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=ba))
            self._apply(tape, loss, self.encoder_variables)
            return loss
        return step

    def fit(self, train: pd.DataFrame, *, epochs: int, batch_size: int, seed: int,
            pairs: pd.DataFrame | None = None, max_steps: int | None = None,
            progress: Callable[[int, int, float], None] | None = None) -> FitResult:
        """Classification batches and pair batches (``batch_size`` pairs each: more in-batch
        negatives) in a shuffled order per epoch."""
        tf = self.tf
        rng = np.random.default_rng(seed)
        task_index = {t: i for i, t in enumerate(self.heads)}
        tasks = np.array([task_index.get(t, -1) for t in train["task"]], dtype=np.int64)
        keep = tasks >= 0
        texts, y, tasks = train["text"].to_numpy()[keep], train["y"].to_numpy()[keep], tasks[keep]
        pairs = pairs if pairs is not None else empty_pairs()
        pa, pb = pairs["text_a"].to_numpy(object), pairs["text_b"].to_numpy(object)
        codes, _ = pd.factorize(np.concatenate([pa, pb]))
        a_ids, b_ids = codes[:len(pa)], codes[len(pa):]
        class_batches = math.ceil(len(texts) / batch_size) if self.heads else 0
        pair_batches = len(pa) // batch_size if len(pa) >= 2 * batch_size else (1 if len(pa) >= 2 else 0)
        pair_size = batch_size if len(pa) >= 2 * batch_size else len(pa)
        per_epoch = class_batches + pair_batches
        total = min(per_epoch * epochs, max_steps or 1 << 30)
        if class_batches and "class" not in self._steps:
            self._steps["class"] = self._class_step()
        if pair_batches and "pair" not in self._steps:
            self._steps["pair"] = self._pair_step()
        class_step, pair_step = self._steps.get("class"), self._steps.get("pair")

        started, done = time.perf_counter(), 0
        history: dict[str, list[float]] = {"class": [], "pair": []}
        epoch_losses, trace = [], []
        for _ in range(epochs):
            order, pair_order = rng.permutation(len(texts)), rng.permutation(len(pa))
            schedule = rng.permutation(["class"] * class_batches + ["pair"] * pair_batches)
            counters = {"class": 0, "pair": 0}
            losses = []
            for kind in schedule:
                if done >= total:
                    break
                b = counters[kind]
                counters[kind] += 1
                if kind == "class":
                    idx = order[b * batch_size:(b + 1) * batch_size]
                    ids, mask = self._batch(texts[idx].tolist())
                    loss = float(class_step(tf.constant(ids), tf.constant(mask),
                                            tf.constant(y[idx].astype(np.int32)),
                                            tf.constant(tasks[idx].astype(np.int32))))
                else:
                    idx = pair_order[b * pair_size:(b + 1) * pair_size]
                    ids_a, mask_a = self._batch(pa[idx].tolist())
                    ids_b, mask_b = self._batch(pb[idx].tolist())
                    skip_ab, skip_ba = _negative_masks(a_ids[idx], b_ids[idx])
                    loss = float(pair_step(tf.constant(ids_a), tf.constant(mask_a),
                                           tf.constant(ids_b), tf.constant(mask_b),
                                           tf.constant(skip_ab), tf.constant(skip_ba)))
                history[kind].append(loss)
                trace.append((kind, loss))
                losses.append(loss)
                done += 1
                if progress is not None:
                    progress(done, total, loss)
            if losses:
                epoch_losses.append(float(np.mean(losses)))
        first, last = _ends(history["class"] or history["pair"])
        pair_first, pair_last = _ends(history["pair"])
        return FitResult(epoch_losses, first, last, done, time.perf_counter() - started,
                         self.device, self.gpu, pair_first, pair_last, len(history["pair"]), trace)

    def vectors(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        """L2-normalised pooled vectors, as the saved encoder will produce them."""
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.bert.config.hidden_size), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            ids, mask = self._batch([texts[i] for i in idx])
            pooled = self._pooled(self.tf.constant(ids), self.tf.constant(mask), False).numpy()
            out[idx] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out

    def predict(self, texts: list[str], task: str, batch_size: int = 128) -> np.ndarray:
        head = self.heads[task]
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros(len(texts), dtype=np.int64)
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            ids, mask = self._batch([texts[i] for i in idx])
            logits = head(self._pooled(self.tf.constant(ids), self.tf.constant(mask), False))
            out[idx] = np.argmax(logits.numpy(), axis=1)
        return out

    def evaluate(self, ex: Examples) -> dict[str, dict[str, float]]:
        """The heads' own held-out scores (a training diagnostic; versions are compared with
        ``evaluate_encoder``)."""
        out = {}
        for task in self.heads:
            te = ex.test[ex.test["task"] == task]
            if not te.empty:
                out[task] = scores(te["y"], self.predict(te["text"].tolist(), task))
        return out

    def save(self, folder: Path) -> int:
        """The encoder in the base package's layout (tokenizer, configs, PyTorch-named
        safetensors) plus the task heads and their label names. The sequence length it was
        trained with goes into sentence_bert_config.json, which TextEncoder reads, so the daily
        embeddings use the same length as training and evaluation."""
        copy_model_files(self.base_path, folder)
        config_path = folder / SENTENCE_CONFIG
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        config_path.write_text(json.dumps({**config, "max_seq_length": self.max_length}, indent=2))
        tensors = save_tf_weights(self.bert, folder)
        np.savez(folder / HEADS_FILE, **{f"{t}_{i}": w for t, h in self.heads.items()
                                         for i, w in enumerate(h.get_weights())})
        (folder / LABELS_FILE).write_text(json.dumps(self.labels, indent=1))
        return tensors


@dataclass
class Outcome:
    """One fine-tuning run, scored: what the asset records and the benchmark prints."""
    max_length: int
    lengths: dict[str, float]
    frozen: dict[str, dict[str, float]]
    tuned: dict[str, dict[str, float]]
    heads: dict[str, dict[str, float]]
    fit: FitResult
    path: Path
    saved_max_length: int
    sizes: dict[str, int]
    gain_interval: tuple[float, float] = (float("nan"), float("nan"))  # 90%, paired bootstrap
    # per classification task, the held-out (true, predicted) label indexes of the fine-tuned
    # encoder's probe: what its macro-F1 is computed on (the confusion-matrix picture)
    predictions: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def gain(self) -> float:
        return weighted_gain(self.tuned, self.frozen, self.sizes)


def fine_tune_and_score(ex: Examples, *, write: Callable[[Callable[[Path], object]], Path],
                        max_length: int = 0, epochs: int, batch_size: int, learning_rate: float,
                        seed: int, temperature: float = 0.05, max_steps: int | None = None,
                        base_path: Path | None = None,
                        log: Callable[[str], None] = lambda _msg: None,
                        progress: Callable[[int, int, float], None] | None = None) -> Outcome:
    """Choose max_length from the training texts (unless given), score the frozen base model
    at it, fine-tune on every task ``ex`` has, save the encoder through ``write`` (which gets
    the save function and returns the folder) and score the saved folder as the daily asset
    loads it: one length everywhere, one protocol for both."""
    from transformers import AutoTokenizer

    from profiling_assets.encoder import base_model_path

    base_path = base_path or base_model_path()
    lengths = token_lengths(AutoTokenizer.from_pretrained(str(base_path)), ex.training_texts())
    max_length = max_length or choose_max_length(lengths)
    spread = length_summary(lengths, max_length)
    log(f"max_length {max_length} for training, evaluation and daily embeddings ({spread})")
    started = time.perf_counter()
    frozen_items: dict = {}
    frozen = evaluate_encoder(TextEncoder(base_path, max_length=max_length), ex, frozen_items)
    log(f"Frozen base model: {frozen} ({time.perf_counter() - started:.0f} s)")
    tasks = ex.tasks()
    tuner = FineTuner(base_path, {t: ex.labels[t] for t in TASKS if t in tasks},
                      max_length=max_length, learning_rate=learning_rate, seed=seed,
                      temperature=temperature)
    log(f"Fine-tuning on {tuner.device}"
        + (" with mixed precision" if tuner.gpu else " (no GPU visible to TensorFlow)"))
    train = ex.train[ex.train["task"].isin(tasks)]
    fit = tuner.fit(train, pairs=ex.pairs_train if ex.has_pairs() else None, epochs=epochs,
                    batch_size=batch_size, seed=seed, max_steps=max_steps, progress=progress)
    heads = tuner.evaluate(ex)
    path = write(tuner.save)
    del tuner
    saved = TextEncoder(path)
    tuned_items: dict = {}
    tuned = evaluate_encoder(saved, ex, tuned_items)
    sizes = ex.heldout_sizes()
    interval = gain_interval(tuned_items, frozen_items, sizes, seed=seed)
    return Outcome(max_length, spread, frozen, tuned, heads, fit, path, saved.max_length,
                   sizes, interval, {t: v for t, v in tuned_items.items() if isinstance(v, tuple)})
