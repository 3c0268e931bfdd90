"""Fine-tuning the packaged BERT on labels the event data carries itself, and the honest
comparison against the frozen model.

Tasks (one shared encoder, one softmax head per task, trained together):
- ``category``: a search query → the category of the first catalogue product its session
  touches next; a product's title and description → its catalogue category.
- ``rating_band``: a review text → negative (1-2 stars), mixed (3) or positive (4-5).

The head reads the same mean-pooled sentence vector that inference produces, so fine-tuning
shapes exactly the embeddings the daily assets store. Held-out texts are distinct texts never
seen in training; the baseline is a logistic regression on the frozen base embeddings trained
on the same training texts.
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

from profiling_assets.encoder import TextEncoder, copy_model_files, normalize_text, save_tf_weights

TASKS = ("category", "rating_band")
HEADS_FILE = "heads.npz"
LABELS_FILE = "labels.json"


@dataclass
class Examples:
    """Distinct labelled texts of every task, split into training and held-out parts."""
    train: pd.DataFrame
    test: pd.DataFrame
    labels: dict[str, list[str]]
    dropped: dict[str, int] = field(default_factory=dict)


def prepare_examples(rows: pd.DataFrame, *, sample_cap: int, eval_share: float,
                     seed: int) -> Examples:
    """One example per (task, normalised text) with its majority label; a stratified split of
    distinct texts (a text is in training or held out, never both); at most ``sample_cap``
    training examples, spread over tasks and labels as in the data."""
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
    if len(train) > sample_cap:
        groups = train.groupby(["task", "label"])["r"]
        quota = np.maximum(1, np.ceil(groups.transform("size") * sample_cap / len(train)))
        train = train[groups.rank(method="first") <= quota]
    return Examples(train.drop(columns="r").reset_index(drop=True),
                    test.drop(columns="r").reset_index(drop=True), labels,
                    {"empty_texts": empty})


def scores(y_true, y_pred) -> dict[str, float]:
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0))}


def frozen_baseline(encoder: TextEncoder, ex: Examples) -> dict[str, dict[str, float]]:
    """Logistic regression per task on the frozen base embeddings (same training texts)."""
    out = {}
    for task in TASKS:
        tr, te = ex.train[ex.train["task"] == task], ex.test[ex.test["task"] == task]
        if tr["y"].nunique() < 2 or te.empty:
            continue
        clf = LogisticRegression(max_iter=2000).fit(encoder.encode(tr["text"].tolist()), tr["y"])
        out[task] = scores(te["y"], clf.predict(encoder.encode(te["text"].tolist())))
    return out


@dataclass
class FitResult:
    losses: list[float]          # mean training loss per epoch
    first_steps_loss: float      # mean loss over the first steps (for the "loss went down" view)
    last_steps_loss: float
    steps: int
    seconds: float
    device: str
    mixed_precision: bool


class FineTuner:
    """A TF BERT with one classification head per task over the mean-pooled vector."""

    def __init__(self, base_path: Path, labels: dict[str, list[str]], *, max_length: int,
                 learning_rate: float, seed: int):
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
        self.tokenizer = AutoTokenizer.from_pretrained(str(base_path))
        self.bert = TFAutoModel.from_pretrained(str(base_path))
        self.heads = {t: tf_keras.layers.Dense(len(labels[t]), dtype="float32", name=f"head_{t}")
                      for t in TASKS if len(labels.get(t, [])) >= 2}
        self.dropout = tf_keras.layers.Dropout(0.1)
        optimizer = tf_keras.optimizers.Adam(learning_rate)
        self.optimizer = (tf_keras.mixed_precision.LossScaleOptimizer(optimizer) if self.gpu
                          else optimizer)

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

    def fit(self, train: pd.DataFrame, *, epochs: int, batch_size: int, seed: int,
            max_steps: int | None = None,
            progress: Callable[[int, int, float], None] | None = None) -> FitResult:
        tf = self.tf
        rng = np.random.default_rng(seed)
        task_index = {t: i for i, t in enumerate(self.heads)}
        tasks = np.array([task_index.get(t, -1) for t in train["task"]])
        keep = tasks >= 0
        texts, y, tasks = train["text"].to_numpy()[keep], train["y"].to_numpy()[keep], tasks[keep]
        steps_per_epoch = math.ceil(len(texts) / batch_size)
        total = min(steps_per_epoch * epochs, max_steps or 1 << 30)
        heads = list(self.heads.values())

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
                scaled = self.optimizer.get_scaled_loss(loss) if self.gpu else loss
            # The pooler is not on the mean-pooling path: it gets no gradient, so leave it out.
            variables = ([v for v in self.bert.trainable_variables if "/pooler/" not in v.name]
                         + [v for h in heads for v in h.trainable_variables])
            grads = tape.gradient(scaled, variables)
            if self.gpu:
                grads = self.optimizer.get_unscaled_gradients(grads)
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
            return loss

        started, done, history, per_epoch = time.perf_counter(), 0, [], []
        for _ in range(epochs):
            order = rng.permutation(len(texts))
            losses = []
            for b in range(steps_per_epoch):
                if done >= total:
                    break
                idx = order[b * batch_size:(b + 1) * batch_size]
                ids, mask = self._batch(texts[idx].tolist())
                loss = float(step(tf.constant(ids), tf.constant(mask),
                                  tf.constant(y[idx].astype(np.int32)),
                                  tf.constant(tasks[idx].astype(np.int32))))
                losses.append(loss)
                history.append(loss)
                done += 1
                if progress is not None:
                    progress(done, total, loss)
            if losses:
                per_epoch.append(float(np.mean(losses)))
        window = max(1, min(10, len(history) // 3))
        return FitResult(per_epoch, float(np.mean(history[:window])), float(np.mean(history[-window:])),
                         done, time.perf_counter() - started, self.device, self.gpu)

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
        out = {}
        for task in self.heads:
            te = ex.test[ex.test["task"] == task]
            if not te.empty:
                out[task] = scores(te["y"], self.predict(te["text"].tolist(), task))
        return out

    def save(self, folder: Path) -> int:
        """The encoder in the base package's layout (tokenizer, configs, PyTorch-named
        safetensors) plus the task heads and their label names."""
        copy_model_files(self.base_path, folder)
        tensors = save_tf_weights(self.bert, folder)
        np.savez(folder / HEADS_FILE, **{f"{t}_{i}": w for t, h in self.heads.items()
                                         for i, w in enumerate(h.get_weights())})
        (folder / LABELS_FILE).write_text(json.dumps(self.labels, indent=1))
        return tensors


def headline(metrics: dict[str, dict[str, float]]) -> float:
    """The figure the goal is stated in: macro-F1 averaged over the tasks evaluated."""
    values = [m["macro_f1"] for m in metrics.values()]
    return float(np.mean(values)) if values else float("nan")
