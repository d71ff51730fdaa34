"""Run independent tasks on a local process pool or on Ray, with results in task order.

Every task runs through the same wrapper in the worker, which turns an exception into an error
string there, so a failed task reads the same on either backend and never stops the others.
Results depend only on the task, never on which worker ran it or when, which is what makes a
sweep's table identical whichever backend and worker count ran it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from settings import ConfigError, check_range

BACKENDS = ("local", "ray")
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Outcome:
    """One task's result, or the one-line error it raised (`Type: message`)."""

    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())  # one line, whatever the message held
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _call(fn: Callable[[Any], Any], task: Any) -> Outcome:
    try:
        return Outcome(fn(task))
    except Exception as exc:
        return Outcome(error=_describe(exc))


def check(backend: str, workers: int | None, address: str | None) -> None:
    """The backend options, refused with the flag's name before anything starts."""
    if backend not in BACKENDS:
        raise ConfigError(
            f"--backend: {backend!r} is not available; allowed: {', '.join(BACKENDS)}"
        )
    if workers is not None:
        check_range("--workers", workers, 1, None, kind=int)
    if address is not None and backend != "ray":
        raise ConfigError("--address: only with --backend ray")


def map_tasks(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> list[Outcome]:
    """`fn` over `tasks` on `backend`; one Outcome per task, in task order.

    `fn` and the tasks must pickle (a module-level function, plain data). `progress(done, total,
    failed)` is called in this process as tasks finish. `address` joins an existing Ray cluster.
    """
    check(backend, workers, address)
    tasks = list(tasks)
    if not tasks:
        return []
    workers = workers or os.cpu_count() or 1
    if backend == "ray":
        return _on_ray(fn, tasks, workers, address, progress)
    return _on_pool(fn, tasks, workers, progress)


def _on_pool(fn, tasks, workers, progress) -> list[Outcome]:
    results: list[Outcome | None] = [None] * len(tasks)
    # spawn, not fork: a forked child would inherit the parent's threads and locks
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        min(workers, len(tasks)), mp_context=context, initializer=_leave_interrupts_to_parent
    )
    try:
        pending = {pool.submit(_call, fn, task): i for i, task in enumerate(tasks)}
        _collect_pool(pending, results, len(tasks), progress)
    except BaseException:  # Ctrl-C: stop the runs under way and drop the queued ones
        # concurrent.futures has no public way to stop a running task before Python 3.14, and
        # waiting for them can hang at exit (seen on 3.11), so the workers are ended here
        for process in list((pool._processes or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results  # type: ignore[return-value]


def _leave_interrupts_to_parent() -> None:
    """Ctrl-C reaches the workers too; a worker interrupted mid-task would leave the pool hung."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _collect_pool(pending, results, total, progress) -> None:
    failed = 0
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            i = pending.pop(future)
            try:
                results[i] = future.result()
            except Exception as exc:  # the worker died (killed, out of memory)
                results[i] = Outcome(error=_describe(exc))
            failed += not results[i].ok
            if progress is not None:
                progress(total - len(pending), total, failed)


# Ray's documented token sources (docs.ray.io, ray-security/token-auth): the token itself, a file
# holding it, or the default file; RAY_AUTH_MODE=token makes a client send it.
TOKEN_ENV, TOKEN_PATH_ENV, AUTH_MODE_ENV = "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"
DEFAULT_TOKEN_FILE = Path("~/.ray/auth_token")


def use_token(token_file: str | None, address: str | None) -> None:
    """Makes this process present the cluster's token when it joins `address`.

    Ray (2.52+) checks a token on every call to a cluster started with token authentication, and
    2.59+ turns it on by default whenever a token file exists; but a client given an explicit
    address never turns it on by itself, so it is refused (InvalidAuthToken). So, joining a
    cluster: a --ray-token-file is used as RAY_AUTH_TOKEN_PATH, and token mode is switched on
    when a token is at hand (that file, RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)
    unless RAY_AUTH_MODE says otherwise. The token is read only to check it is there; it is never
    printed.
    """
    if token_file is not None and address is None:
        raise ConfigError("--ray-token-file: only with --address (a cluster to join)")
    if address is None:
        return
    if token_file is not None:
        path = Path(token_file).expanduser()
        try:
            present = bool(path.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not text"
            raise ConfigError(
                f"--ray-token-file: cannot read {token_file} ({reason}); "
                "allowed: a readable file holding the cluster's token"
            ) from None
        if not present:
            raise ConfigError(f"--ray-token-file: {token_file} is empty; allowed: a token file")
        os.environ[TOKEN_PATH_ENV] = str(path.resolve())
        os.environ.pop(TOKEN_ENV, None)  # Ray would prefer it to the file asked for
    has_token = (
        bool(os.environ.get(TOKEN_ENV))
        or bool(os.environ.get(TOKEN_PATH_ENV))
        or DEFAULT_TOKEN_FILE.expanduser().is_file()
    )
    if has_token and AUTH_MODE_ENV not in os.environ:
        os.environ[AUTH_MODE_ENV] = "token"
        if "ray" in sys.modules:  # Ray reads its mode once; what its own token setup does
            from ray._raylet import Config

            Config.initialize("")


def _reachable(address: str) -> None:
    """Refuses a host:port nobody listens on: ray.init would retry it without end."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and the like: Ray resolves them itself
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise ConfigError(f"--address: no Ray cluster reached at {address!r} ({exc})") from None


def _import_ray():
    """Ray is the `ray` extra: without it the ModuleNotFoundError reaches `run.main`, which
    names the extra to install."""
    import ray

    return ray


def _start_ray(ray, workers: int, address: str | None) -> bool:
    """Connects to Ray unless already connected; True if this call started the connection."""
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address:
        # workers on other machines need this project's code
        env = {"working_dir": str(ROOT), "excludes": ["contracts/node_modules", ".git", "runs"]}
        _reachable(address)
        with _stderr_captured() as said:  # said() is what Ray wrote, once the block is over
            try:
                ray.init(address=address, runtime_env=env, **quiet)
                failure = None
            except (ConnectionError, RuntimeError) as exc:
                failure = exc
        if failure is not None:
            if "InvalidAuthToken" in said():
                raise ConfigError(
                    f"--address: the Ray cluster at {address!r} refused this client's token "
                    "(InvalidAuthToken); allowed: the cluster's token, by --ray-token-file FILE, "
                    f"{TOKEN_PATH_ENV}, {TOKEN_ENV} or ~/.ray/auth_token"
                ) from None
            raise ConfigError(f"--address: no Ray cluster reached at {address!r} "
                              f"({_describe(failure)})") from None  # fmt: skip
    else:
        ray.init(num_cpus=workers, include_dashboard=False, **quiet)
    return True


@contextmanager
def _stderr_captured():
    """Ray's core logs each failed connection attempt (a few a second, for some 20 s) straight to
    file descriptor 2; while connecting, that goes to a file, read back to name the reason."""
    sys.stderr.flush()
    saved, text = os.dup(2), []
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 2)
        try:
            yield lambda: "".join(text)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            f.seek(0)
            text.append(f.read().decode(errors="replace"))


def _on_ray(fn, tasks, workers, address, progress) -> list[Outcome]:
    ray = _import_ray()
    started = _start_ray(ray, workers, address)
    pending: list = []
    try:
        remote = ray.remote(_call)
        refs = [remote.remote(fn, task) for task in tasks]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Outcome | None] = [None] * len(tasks)
        pending, failed = list(refs), 0
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i = index[ref]
                try:
                    results[i] = ray.get(ref)
                except Exception as exc:  # the worker died; the task never returned
                    results[i] = Outcome(error=_describe(exc))
                failed += not results[i].ok
                if progress is not None:
                    progress(len(tasks) - len(pending), len(tasks), failed)
        return results  # type: ignore[return-value]
    except BaseException:  # Ctrl-C: a cluster we joined must not go on running our tasks
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


@contextmanager
def mapper(backend: str = "local", workers: int | None = None, address: str | None = None):
    """A `map(fn, *iterables)` on the backend for the length of a command: one process pool, or
    one Ray connection, serving every map of it (a Monte Carlo run maps its chunks many times:
    the main run, then each stress point). Results in order; a failed chunk raises, since a
    partial Monte Carlo result is no result."""
    check(backend, workers, address)
    workers = workers or os.cpu_count() or 1
    if backend == "local":
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context,
                                 initializer=_leave_interrupts_to_parent) as pool:  # fmt: skip
            yield lambda fn, *iterables: list(pool.map(fn, *iterables))
        return
    ray = _import_ray()
    started = _start_ray(ray, workers, address)
    remotes: dict[Any, Any] = {}

    def on_ray(fn, *iterables):
        remote = remotes.get(fn)
        if remote is None:
            remote = remotes[fn] = ray.remote(fn)
        return ray.get([remote.remote(*args) for args in zip(*iterables, strict=True)])

    try:
        yield on_ray
    finally:
        if started:
            ray.shutdown()
