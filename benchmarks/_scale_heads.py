"""Heads at the bare-loop limit, and their thread policy idle and under load.

``bench_scale.py`` section ``heads``; its configurations are :data:`FULL` and :data:`QUICK`.

Ratios: ``MLPHead`` / ``LinearHead`` ``fit`` (early stopping off, so no validation
split) against a bare torch loop doing the same work: the same module and initial
weights, criterion, Adam, learning rate, epochs, batch size and ``randperm``
shuffling, on float32 embeddings held as a tensor; both timed from building the
module to the last step. Both run with one thread (the ratio is the per-batch
overhead, not a thread count) and alternate, ``repeats`` times each; the best
wall time (and, beside it, the best CPU time: steadier on a shared machine) of
each counts. The head's time includes what it does beyond the loop: validating
and encoding ``X`` and ``y``, building the network twice (as skorch's ``fit``
does; kept so a seed gives the weights it gave before), the thread policy and
the history.

Threads: ``MLPHead(max_epochs=50).fit`` on 240 x 512 with torch's default threads
(``n_threads=None``) and with the default policy (``n_threads="auto"``), as the
machine is and with ``hog`` extra busy-looping processes; then the ``noise-curve``
command (which builds its heads with the default policy) on the same embeddings.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: bench_scale.py's configurations of this section.
FULL = dict(
    sizes=[(4_000, 512, 20), (1_000_000, 512, 1)],  # rows, dim, epochs
    repeats=2,
    thread_rows=240,
    thread_epochs=50,
    hog=2,
    cli_rates=[0.0, 0.4],
    cli_cv=3,
)
QUICK = dict(
    sizes=[(500, 32, 3)],
    repeats=2,
    thread_rows=120,
    thread_epochs=3,
    hog=2,
    cli_rates=[0.0],
    cli_cv=2,
)

ROOT = Path(__file__).resolve().parents[1]
HEADS = ("MLPHead", "LinearHead")
BATCH_SIZE = 64


def _data(n_rows, dim, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n_rows)
    X = rng.standard_normal((n_rows, dim), dtype=np.float32)
    X[:, :8] += y[:, None].astype(np.float32)  # learnable, so losses move as in real use
    return X, y


def _head(name, **params):
    import skhisto

    return getattr(skhisto, name)(early_stopping=False, device="cpu", random_state=0, **params)


def bare_loop(head, X, y):
    """The bare torch loop doing ``head``'s training work (built and trained; one thread)."""
    import torch

    from skhisto.heads import LOSSES
    from skhisto.heads._module import HeadModule

    torch.manual_seed(0)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    sizes = getattr(head, "hidden_layer_sizes", ())
    module = HeadModule(X.shape[1], int(y.max()) + 1, tuple(sizes))
    criterion = LOSSES["cross_entropy"]()
    optimizer = torch.optim.Adam(module.parameters(), lr=head.lr)
    n, batch = len(yt), head.batch_size
    module.train()
    for _ in range(head.max_epochs):
        order = torch.randperm(n)
        for i in range(0, n, batch):
            index = order[i : i + batch]
            optimizer.zero_grad()
            loss = criterion(module(Xt[index]), yt[index])
            loss.backward()
            optimizer.step()


def _timed(function, *args):
    """Wall and CPU seconds of ``function(*args)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    function(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def _fit_seconds(head, X, y):
    return _timed(head.fit, X, y)[0]


def measure_ratios(sizes, repeats):
    """Head and bare-loop seconds (best of ``repeats``, alternating) and their ratio."""
    import torch

    figures, previous = {}, torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _ratios(sizes, repeats, figures)
    finally:
        torch.set_num_threads(previous)


def _ratios(sizes, repeats, figures):
    for n_rows, dim, epochs in sizes:
        X, y = _data(n_rows, dim)
        for name in HEADS:
            head = _head(name, max_epochs=epochs, batch_size=BATCH_SIZE, n_threads=1)
            bare, fit = [], []
            for _ in range(repeats):
                bare.append(_timed(bare_loop, head, X, y))
                fit.append(_timed(head.fit, X, y))
            (bare_wall, bare_cpu), (fit_wall, fit_cpu) = np.min(bare, 0), np.min(fit, 0)
            key = f"{name} {n_rows:,} x {dim}, {epochs} epochs"
            figures[f"{key}: bare loop s"] = float(bare_wall)
            figures[f"{key}: fit s"] = float(fit_wall)
            figures[f"{key}: ratio"] = float(fit_wall / bare_wall)
            figures[f"{key}: CPU-time ratio"] = float(fit_cpu / bare_cpu)
            print(
                f"  {key}: fit {fit_wall:.2f} s, bare {bare_wall:.2f} s, ratio "
                f"{fit_wall / bare_wall:.3f} (CPU time {fit_cpu / bare_cpu:.3f})",
                flush=True,
            )
        del X, y
    return figures


def _hogs(n):
    """Start ``n`` busy-looping processes (the caller stops them)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def _stop(procs):
    for proc in procs:
        proc.kill()
        proc.wait()


def _cli_seconds(path, rates, cv, epochs):
    command = [sys.executable, "-m", "skhisto", "noise-curve", str(path), "--heads", "mlp"]
    command += ["--rates", *map(str, rates), "--cv", str(cv), "--max-epochs", str(epochs)]
    with tempfile.TemporaryDirectory(prefix="skhisto-bench-heads-") as out:
        start = time.perf_counter()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        subprocess.run([*command, "--out-dir", out], check=True, capture_output=True, env=env)
        return time.perf_counter() - start


def measure_threads(n_rows, epochs, hog, rates, cv):
    """MLPHead fit seconds with torch's threads vs the policy, then the CLI; idle and loaded."""
    import torch

    from skhisto.utils._threads import cpu_count

    X, y = _data(n_rows, 512)
    figures = {"cpus": cpu_count(), "torch default threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory(prefix="skhisto-bench-heads-") as tmp:
        path = Path(tmp) / "emb.npz"
        names = np.array(["a", "b", "c"])[y]
        np.savez(
            path, embeddings=X, paths=np.array([f"t{i}.png" for i in range(len(y))]), labels=names
        )
        for state in ("idle", "loaded"):
            procs = _hogs(hog) if state == "loaded" else []
            try:
                time.sleep(1.0 if procs else 0)
                for label, n_threads in (("torch default", None), ("auto", "auto")):
                    head = _head("MLPHead", max_epochs=epochs, n_threads=n_threads)
                    seconds = _fit_seconds(head, X, y)
                    figures[f"{state}: fit s, {label} threads ({head.n_threads_})"] = seconds
                    print(
                        f"  {state}, {label} ({head.n_threads_} threads): {seconds:.2f} s",
                        flush=True,
                    )
                seconds = _cli_seconds(path, rates, cv, epochs)
                figures[f"{state}: noise-curve s ({len(rates)} rates x {cv} folds)"] = seconds
                print(f"  {state}, noise-curve: {seconds:.2f} s", flush=True)
            finally:
                _stop(procs)
    return figures


def run(config, data, quick):
    """Figures of the section: ratios, then thread timings (``data`` is not used)."""
    figures = measure_ratios(config["sizes"], config["repeats"])
    figures.update(
        measure_threads(
            config["thread_rows"],
            config["thread_epochs"],
            config["hog"],
            config["cli_rates"],
            config["cli_cv"],
        )
    )
    return figures


if __name__ == "__main__":  # python benchmarks/_scale_heads.py [--quick]
    quick = "--quick" in sys.argv
    run(QUICK if quick else FULL, None, quick)
