"""The trained intent classifier on disk, beside the index: trained once (by ingest), loaded at every start.

Training takes 12-14 s on 2 cores; loading the file takes a fraction of a second. The file is
``DATA_DIR/cache/classifier-<key>.pickle``, where the key is a hash of everything training reads: the
exemplars (text, topic, gate, language: the pack's tickets and articles and the engine's gate examples),
the content of the gate examples file, the exemplar vectors
and the embedder's name, the hyper-parameters, the classifier's source code and the scikit-learn and numpy
versions. Change any of them and the next start trains again and replaces the file (as the index is rebuilt
when its inputs change).

This is a local, trusted cache: the file is a pickle (the standard library's; joblib would add its import
time to every start for nothing), and loading a pickle can run code. The assistant only reads the file it
wrote itself into its own data directory; never copy one in from elsewhere. A file that cannot be read
(corrupt, truncated, written by another version) is logged and replaced by a freshly trained classifier;
it never stops the assistant. Loading it imports no scikit-learn (see ``IntentClassifier``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
from collections.abc import Collection
from importlib import metadata
from pathlib import Path

import numpy as np

from bnpl_assistant.classify import intent
from bnpl_assistant.classify.exemplars import Exemplar, gates_text
from bnpl_assistant.classify.intent import HYPER_PARAMETERS, IntentClassifier

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the file's layout changes
PREFIX = "classifier-"
SUFFIX = ".pickle"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _source_bytes() -> bytes:
    try:
        return Path(intent.__file__).read_bytes()
    except (OSError, TypeError):
        return b""


def classifier_key(exemplars: list[Exemplar], vectors: np.ndarray, embedder_name: str) -> str:
    """A hex digest of every input of training (see the module docstring); equal keys, equal classifiers.

    Args:
        exemplars: the labelled training messages, in training order.
        vectors: their query embeddings, one row per exemplar.
        embedder_name: the name of the embedder that made ``vectors``.
    """
    digest = hashlib.sha256()
    header = {
        "format": FORMAT,
        "embedder": embedder_name,
        "hyper_parameters": HYPER_PARAMETERS,
        "versions": {p: _version(p) for p in ("scikit-learn", "numpy", "scipy")},
        "exemplars": [[e.text, e.topic, e.gate, e.language] for e in exemplars],
    }
    digest.update(json.dumps(header, sort_keys=True, ensure_ascii=False).encode())
    digest.update(hashlib.sha256(gates_text().encode()).digest())
    digest.update(hashlib.sha256(_source_bytes()).digest())
    array = np.ascontiguousarray(vectors)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def classifier_path(cache_dir: Path, key: str) -> Path:
    """Where the classifier with ``key`` lives in ``cache_dir``."""
    return cache_dir / f"{PREFIX}{key[:32]}{SUFFIX}"


def load_classifier(path: Path, key: str) -> IntentClassifier | None:
    """The classifier stored at ``path`` for ``key``; None when there is none, or it is unreadable or stale."""
    if not path.exists():
        return None
    try:
        with path.open("rb") as file:
            stored = pickle.load(file)  # our own file in our own data directory (see the module docstring)
    except Exception as exc:  # noqa: BLE001 - any unreadable cache file (truncated, corrupt, old) means retrain
        log.warning("ignoring unreadable classifier cache %s (%s: %s); training again", path,
                    type(exc).__name__, exc)
        return None
    if not (isinstance(stored, dict) and stored.get("key") == key
            and isinstance(stored.get("classifier"), IntentClassifier)):
        log.warning("ignoring classifier cache %s: not the classifier for these inputs; training again", path)
        return None
    return stored["classifier"]


def save_classifier(classifier: IntentClassifier, path: Path, key: str, keep: Collection[Path] = ()) -> None:
    """Write ``classifier`` to ``path`` atomically and remove the files of other keys beside it, except ``keep``
    (the other classifiers of the same inputs, see ``by_language.py``).

    A data directory that cannot be written is logged, not raised: the assistant still has its classifier.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{PREFIX}", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                pickle.dump({"key": key, "classifier": classifier}, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not write the classifier cache %s: %s", path, exc)
        return
    remove_stale_classifiers(path.parent, {path, *keep})


def remove_stale_classifiers(cache_dir: Path, current: Collection[Path]) -> None:
    """Remove the classifier files in ``cache_dir`` that are not ``current`` (those of earlier inputs); a
    folder that cannot be written is logged, not raised."""
    try:
        for old in cache_dir.glob(f"{PREFIX}*{SUFFIX}"):
            if old not in current:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not clean the classifier cache %s: %s", cache_dir, exc)


def trained_classifier(cache_dir: Path, exemplars: list[Exemplar], vectors: np.ndarray,
                       embedder_name: str) -> IntentClassifier:
    """The intent classifier for these inputs: loaded from ``cache_dir`` when its key matches, otherwise
    trained and written there for the next start.

    Args:
        cache_dir: the data directory's cache folder.
        exemplars: the labelled training messages.
        vectors: their query embeddings.
        embedder_name: the embedder that made ``vectors``.
    """
    key = classifier_key(exemplars, vectors, embedder_name)
    path = classifier_path(cache_dir, key)
    classifier = load_classifier(path, key)
    if classifier is None:
        log.info("training the intent classifier on %d exemplars", len(exemplars))
        classifier = IntentClassifier(exemplars, vectors)
        save_classifier(classifier, path, key)
    return classifier
