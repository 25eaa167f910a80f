"""Thread budget of CPU-bound fits: never more compute threads than free cores.

OpenMP and BLAS thread pools assume they own their cores: with more threads
than free cores, each parallel region waits for its slowest (descheduled)
thread, and a fit on a busy machine runs an order of magnitude slower (on 2
busy cores one ``MLPHead(max_epochs=50).fit`` on 240 x 512 took 138-147 s with
torch's 2 default threads and 11-26 s with one). Too few threads costs at
most the parallel speed-up, so the budget errs low.

:func:`thread_budget` resolves a head's ``n_threads``; :func:`limit_threads`
applies it to torch and to every BLAS/OpenMP pool (threadpoolctl) for the
duration of a block and restores them after.
"""

import math
import os
import time
from contextlib import contextmanager

import torch
from threadpoolctl import ThreadpoolController

_CONTROLLER = []  # threadpoolctl's scan of the loaded libraries, done once (it costs milliseconds)


def _controller():
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def cpu_count():
    """CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(n, quota) if quota else n)


def _cgroup_quota():
    """CPUs of a cgroup v2 quota (``cpu.max``), rounded up; None when unlimited or unknown."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def busy_cpus(samples=3, interval=0.0005):
    """Tasks other than this one that are runnable now (median of a few samples).

    Read from the runnable count of ``/proc/loadavg`` (Linux; the calling
    thread is one of them), else the 1-minute load average, else 0.
    """
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as f:
                counts.append(int(f.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            break
        if i < samples - 1:
            time.sleep(interval)
    if counts:
        return max(sorted(counts)[len(counts) // 2], 0)
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0


def thread_budget(n_threads="auto"):
    """The number of compute threads a fit should use.

    Parameters
    ----------
    n_threads : "auto", int or None, default="auto"
        An int is used as given. ``"auto"`` is torch's current thread count
        (its default, ``OMP_NUM_THREADS``, or the ``cpu_count // n_jobs``
        joblib gives each worker of a parallel search) capped by the free
        cores: the CPUs this process may use (affinity, cgroup quota) less
        the other tasks runnable right now, at least 1. None is torch's
        current count, unlimited by load.

    Returns
    -------
    int
    """
    if n_threads is None:
        return torch.get_num_threads()
    if n_threads != "auto":
        return int(n_threads)
    free = math.floor(cpu_count() - busy_cpus())
    return max(1, min(torch.get_num_threads(), free))


@contextmanager
def limit_threads(n_threads="auto"):
    """Run a block with at most ``thread_budget(n_threads)`` compute threads.

    Sets ``torch.set_num_threads`` and limits the BLAS and OpenMP pools
    (threadpoolctl; the libraries loaded at the first call); both are
    restored on exit, also on error. Yields the
    number of threads. ``n_threads=None`` changes nothing.
    """
    if n_threads is None:
        yield torch.get_num_threads()
        return
    n = thread_budget(n_threads)
    previous = torch.get_num_threads()
    try:
        with _controller().limit(limits=n):
            torch.set_num_threads(n)  # after threadpoolctl: torch's own pools too
            yield n
    finally:
        torch.set_num_threads(previous)
