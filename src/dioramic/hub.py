"""Model files from the Hugging Face hub and ONNX Runtime sessions, shared by every learned backend.

`fetch_model` finds a model file in the hub's cache or downloads it once (honouring HF_HUB_OFFLINE
and an explicit offline flag, and probing the network first so that an offline machine answers in
seconds, not after huggingface_hub's retries). `load_onnx` opens a file with ONNX Runtime (CUDA when
onnxruntime-gpu offers it, else the CPU) and keeps one session per file, thread count and use.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from dioramic.errors import InputError, ModelUnavailableError

log = logging.getLogger(__name__)

HUB_PROBE_TIMEOUT = 3.0
"""Seconds the network probe waits for the hub (or the HTTPS proxy) before calling it unreachable."""

T = TypeVar("T")
_SESSIONS: dict[tuple[str, int, int, str], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def env_offline() -> bool:
    """HF_HUB_OFFLINE as set now (huggingface_hub reads it once, at its import)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE"):
        return True
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """Whether a TCP connection to the hub's host (or the HTTPS proxy) opens within `timeout` seconds.

    huggingface_hub retries a failed request for about 20 s; this bounded probe, name lookup included,
    lets `available()` answer in seconds when there is no network."""
    from huggingface_hub import constants

    url = urllib.parse.urlsplit(constants.ENDPOINT)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_url = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_url.hostname or "", proxy_url.port or 8080
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, name="dioramic-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def fetch_model(
    repo_id: str,
    filename: str,
    *,
    label: str,
    hint: str,
    licence: str = "",
    revision: str | None = None,
    cache_dir: Path | None = None,
    offline: bool = False,
    download: bool = True,
) -> Path | None:
    """The hub file `repo_id`/`filename`: the cache's copy, or a download into the cache.

    Returns None when `download` is False and the file is not cached. Raises ModelUnavailableError
    (naming `label` and ending with `hint`) when it is neither cached nor downloadable."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision)
    if isinstance(cached, str):
        return Path(cached)
    if not download:
        return None
    if offline or env_offline():
        raise ModelUnavailableError(f"{label} is not in the cache and offline: {hint}")
    if not hub_reachable():
        raise ModelUnavailableError(
            f"{label} is not in the cache and the Hugging Face hub cannot be reached: {hint}"
        )
    terms = f" ({licence} licence)" if licence else ""
    log.info("downloading %s%s, once: it is cached for later runs", label, terms)
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache_dir))
    except Exception as exc:  # HTTP, file-system and offline errors all mean the same to the user
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailableError(f"could not download {label}: {first_line}") from exc


def load_onnx(path: Path, threads: int | None, build: Callable[[Any, Path], T], *, missing: str) -> T:
    """`build(session, path)` for an ONNX Runtime session of `path`, made once per file (and its
    modification time), thread count and `build`: CUDA when onnxruntime-gpu provides it, else the CPU
    with `threads` intra-op threads (default one per core). `build` checks the model's signature and
    wraps the session. A missing file raises ModelUnavailableError(`missing`); an unreadable one
    InputError."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise ModelUnavailableError(missing) from None
    n_threads = threads or os.cpu_count() or 0
    key = (str(path.resolve()), stat.st_mtime_ns, n_threads, f"{build.__module__}.{build.__qualname__}")
    with _SESSIONS_LOCK:
        if key in _SESSIONS:
            return _SESSIONS[key]
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        available = ort.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider",) if p in available] + ["CPUExecutionProvider"]
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors for unreadable files
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path} cannot be loaded as an ONNX model: {detail}") from exc
        value = build(session, path)
        log.info("loaded %s on %s", path, ", ".join(session.get_providers()))
        _SESSIONS[key] = value
        return value
