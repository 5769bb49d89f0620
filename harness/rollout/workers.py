"""Envs living in worker processes: a small pool of our own (fresh interpreters, like multiprocessing's spawn).

Heavy engines (ALFWorld's TextWorld, a browser) keep their state and their GIL in a worker, so many episodes can run
side by side without blocking the caller. Each worker hosts several envs, keyed by a handle id; requests go down a
pipe and a reader thread per worker resolves `concurrent.futures.Future`s, so callers in any thread (or asyncio via
`asyncio.wrap_future`) wait without blocking one another. A worker that dies fails its pending calls with
`EnvUnavailable` instead of hanging and is replaced on the next `open`; a worker stuck in a call is killed and
replaced (`replace_worker_of`); workers die with their parent, so none outlives the run.

Workers are started as `python -m harness.rollout.workers --fd N` over a socket pair with `multiprocessing.connection`
framing, rather than with `multiprocessing.Process`: spawn re-imports the caller's `__main__`, which re-runs any
script that lacks an `if __name__ == "__main__"` guard.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import Future, InvalidStateError
from typing import Any

from agent_envs.errors import EnvUnavailable


def _worker_main(conn: Any) -> None:
    """Worker loop: make / reset / step / close envs on request until told to stop."""
    import gymnasium as gym

    import agent_envs  # noqa: F401 - registers the built-in ids

    envs: dict[int, Any] = {}
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            break
        if request is None:
            break
        req_id, handle, method, args, kwargs = request
        try:
            if method == "make":
                env_id, env_kwargs = args
                envs[handle] = gym.make(env_id, **dict(env_kwargs or {}))
                result: Any = None
            elif method == "close":
                env = envs.pop(handle, None)
                if env is not None:
                    env.close()
                result = None
            else:
                result = getattr(envs[handle], method)(*args, **kwargs)
            conn.send((req_id, True, result))
        except BaseException as error:  # noqa: BLE001 - report every failure to the caller
            detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            try:
                conn.send((req_id, False, (f"{type(error).__name__}: {error}", detail)))
            except Exception:  # noqa: BLE001 - e.g. an unpicklable result; the reader reports the broken pipe
                break
    for env in envs.values():
        try:
            env.close()
        except Exception:  # noqa: BLE001
            pass


class RemoteEnvError(Exception):
    """An exception raised inside a worker process; `remote_traceback` holds its traceback text."""

    def __init__(self, message: str, remote_traceback: str):
        super().__init__(message)
        self.remote_traceback = remote_traceback


class _Worker:
    def __init__(self, index: int):
        from multiprocessing.connection import Connection

        parent_sock, child_sock = socket.socketpair()
        child_fd = child_sock.fileno()
        self.name = f"agent-envs-worker-{index}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.rollout.workers", "--fd", str(child_fd)],
            pass_fds=(child_fd,),
            stdin=subprocess.DEVNULL,
        )
        child_sock.close()
        self.conn = Connection(parent_sock.detach())
        self.pending: dict[int, Future] = {}
        self.send_lock = threading.Lock()
        self.open_envs = 0
        self.alive = True
        self.reader = threading.Thread(target=self._read, name=f"{self.name}-reader", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                req_id, ok, payload = self.conn.recv()
            except (EOFError, OSError):
                break
            future = self.pending.pop(req_id, None)
            if future is None:
                continue
            try:
                if ok:
                    future.set_result(payload)
                else:
                    future.set_exception(RemoteEnvError(*payload))
            except InvalidStateError:  # a caller that timed out cancelled it
                pass
        self.alive = False
        code = self.process.poll()
        for future in list(self.pending.values()):
            if not future.done():
                try:
                    future.set_exception(EnvUnavailable(f"env worker {self.name} died (exit code {code})"))
                except InvalidStateError:  # cancelled meanwhile by its caller
                    pass
        self.pending.clear()

    def call(self, req_id: int, handle: int, method: str, args: tuple, kwargs: dict) -> Future:
        future: Future = Future()
        if not self.alive:
            future.set_exception(EnvUnavailable(f"env worker {self.name} is not running"))
            return future
        self.pending[req_id] = future
        try:
            with self.send_lock:
                self.conn.send((req_id, handle, method, args, kwargs))
        except (OSError, ValueError) as error:
            self.pending.pop(req_id, None)
            future.set_exception(EnvUnavailable(f"env worker {self.name}: {error}"))
        return future


class EnvWorkerPool:
    """`n_workers` spawn processes hosting envs made with `gymnasium.make`.

    Args:
        n_workers: processes to start (each hosts any number of envs; new envs go to the least loaded one).
    """

    def __init__(self, n_workers: int = 2):
        if n_workers < 1:
            raise ValueError("n_workers must be >= 1")
        self._workers = [_Worker(i) for i in range(n_workers)]
        self._ids = itertools.count(1)
        self._homes: dict[int, _Worker] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.restarts = 0

    def _replace(self, worker: _Worker) -> None:
        """Kill `worker` (if still running) and start a fresh one in its slot (call with the lock held)."""
        if worker.process.poll() is None:
            worker.process.kill()
        index = self._workers.index(worker)
        self._workers[index] = _Worker(index)
        self.restarts += 1

    def open(self, env_id: str, env_kwargs: dict[str, Any] | None = None) -> tuple[int, Future]:
        """Make an env in a worker; returns its handle and a future that resolves once it exists."""
        with self._lock:
            if self._closed:
                raise EnvUnavailable("the env worker pool is closed")
            for dead in [w for w in self._workers if not w.alive]:
                self._replace(dead)
            worker = min(self._workers, key=lambda w: w.open_envs)
            handle = next(self._ids)
            worker.open_envs += 1
            self._homes[handle] = worker
        return handle, worker.call(next(self._ids), handle, "make", (env_id, dict(env_kwargs or {})), {})

    def call(self, handle: int, method: str, *args: Any, **kwargs: Any) -> Future:
        """Call `method` (e.g. "reset", "step") on the env behind `handle`; returns a future of the result."""
        worker = self._homes.get(handle)
        if worker is None:
            future: Future = Future()
            future.set_exception(EnvUnavailable(f"no open env with handle {handle}"))
            return future
        return worker.call(next(self._ids), handle, method, args, kwargs)

    def is_alive(self, handle: int) -> bool:
        """Whether the env behind `handle` still lives (its worker runs and has not been replaced)."""
        worker = self._homes.get(handle)
        return worker is not None and worker.alive and worker in self._workers

    def replace_worker_of(self, handle: int) -> None:
        """Kill the worker hosting `handle` (stuck in a call) and start a fresh one; its envs' calls fail."""
        with self._lock:
            worker = self._homes.get(handle)
            if worker is not None and worker in self._workers and not self._closed:
                self._replace(worker)

    def pids(self) -> list[int]:
        """The worker processes' ids."""
        return [w.process.pid for w in self._workers]

    def release(self, handle: int) -> Future:
        """Close the env behind `handle` (idempotent)."""
        with self._lock:
            worker = self._homes.pop(handle, None)
            if worker is not None:
                worker.open_envs -= 1
        if worker is None or not worker.alive or worker not in self._workers:  # gone with its worker
            done: Future = Future()
            done.set_result(None)
            return done
        return worker.call(next(self._ids), handle, "close", (), {})

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop every worker (envs are closed by the workers); idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for worker in self._workers:
            try:
                with worker.send_lock:
                    worker.conn.send(None)
            except (OSError, ValueError):
                pass
        for worker in self._workers:
            try:
                worker.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(5.0)
            worker.conn.close()
        self._homes.clear()

    def __enter__(self) -> EnvWorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _main() -> None:
    """Entry point of a worker process: `python -m harness.rollout.workers --fd N`."""
    from multiprocessing.connection import Connection

    if len(sys.argv) != 3 or sys.argv[1] != "--fd":
        sys.exit("usage: python -m harness.rollout.workers --fd N (started by EnvWorkerPool)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _tie_to_parent()
    _worker_main(Connection(int(sys.argv[2])))


def _tie_to_parent() -> None:
    """Never outlive the run, and leave Ctrl-C to the parent (it shuts the pool down).

    A closed socket ends an idle worker; a watchdog thread ends a busy one once its parent is gone. (PR_SET_PDEATHSIG
    would fire when the *thread* that started the worker exits, and pools are started from short-lived threads.)
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


if __name__ == "__main__":
    _main()
