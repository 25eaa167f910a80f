"""Batching and progress shared by every torch-backed estimator."""

import os
import sys
import warnings

import numpy as np

from ._constraints import NON_NEGATIVE_INT, POSITIVE_INT, TORCH_DEVICE, VERBOSE
from ._sklearn_compat import HasMethods, validate_params

#: With ``verbose="auto"``, a bar appears once a run has lasted this many seconds:
#: short runs stay quiet, long ones always speak, however few their batches.
PROGRESS_DELAY = 2.0

#: Where stderr is no terminal (a file, a CI log), a bar is a plain line at most this often
#: (and once at its end), never redrawn in place.
LOG_INTERVAL = 30.0


@validate_params(
    {
        "iterable": [HasMethods(["__iter__"]), None],  # None: a bar updated by hand
        "total": NON_NEGATIVE_INT + [None],
        "desc": [str, None],
        "verbose": VERBOSE,
    },
    prefer_skip_nested_validation=True,
)
def progress(iterable, *, total=None, desc=None, verbose="auto"):
    """Wrap ``iterable`` in a tqdm bar when the run is long enough to need one.

    The bar fits the front end: a widget in Jupyter when ``ipywidgets`` is
    installed, otherwise text on stderr (never tqdm's warning about a missing
    ``ipywidgets``). Where stderr is no terminal (redirected to a file, CI logs),
    a bar is a plain line every ``LOG_INTERVAL`` seconds and one when it ends,
    without cursor movement or nested bars.

    Parameters
    ----------
    iterable : iterable
    total : int, optional
        Number of items (batches) expected.
    desc : str, optional
        Label shown before the bar.
    verbose : {"auto"} or bool, default="auto"
        ``"auto"`` shows the bar once the run has taken ``PROGRESS_DELAY``
        seconds; ``True``/``False`` force it on or off.

    Returns
    -------
    tqdm
        An iterable over ``iterable`` (a disabled bar when ``verbose=False``).

    Examples
    --------
    >>> from skhisto.utils import progress
    >>> sum(progress(range(4), total=4, desc="demo"))  # quick: no bar
    6
    """
    delay = PROGRESS_DELAY if verbose == "auto" else 0
    bar = _bar_class()
    return bar(
        iterable,
        total=total,
        desc=desc,
        disable=not verbose,
        delay=delay,
        leave=False,
        file=sys.stderr,
    )


def _bar_class():
    """tqdm's notebook bar in a Jupyter kernel with ``ipywidgets``, its text bar in a
    terminal or a kernel, :class:`_LogBar` where stderr is neither (a file, a CI log).

    ``tqdm.auto`` picks the notebook bar from the kernel alone and, without
    ``ipywidgets``, warns at import; this asks for the widgets first.
    """
    if _in_notebook():
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm
        except ImportError:
            pass
        else:
            return tqdm
    from tqdm.std import tqdm

    # A kernel's front end (notebook, Qt console) draws carriage returns, though its
    # stderr is no tty; a file keeps every redraw and cursor-up escape as text.
    if "ipykernel.zmqshell" in sys.modules or _is_terminal(sys.stderr):
        return tqdm
    return _log_bar_class(tqdm)


def _is_terminal(stream):
    """Whether ``stream`` is an open terminal (False for None, a file or a closed stream)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _log_bar_class(tqdm):
    """:class:`_LogBar`, defined on first use so that tqdm is imported only with a bar."""
    global _LogBar
    if _LogBar is None:

        class LogBar(tqdm):
            """A bar for logs: one plain line at most every ``LOG_INTERVAL`` seconds and one at
            its end, each on its own line; no bar glyphs, no carriage return, no cursor
            movement (tqdm moves the cursor up to draw nested bars at their ``position``)."""

            def __init__(self, *args, **kwargs):
                self._last_line = None  # when a line was last written, if ever
                self._last_n = None
                # ncols=0: tqdm's plain "desc:  40% 2/5 [elapsed<remaining, rate]", no bar
                super().__init__(*args, **{**kwargs, "ncols": 0, "leave": False})

            def display(self, msg=None, pos=None):
                # '' clears the bar in place: nothing to clear in a log; no start_t: the
                # first draw, inside tqdm's __init__ (a line at 0% says nothing yet).
                if msg is not None or not hasattr(self, "start_t"):
                    return False
                now = self._time()
                since = self.start_t if self._last_line is None else self._last_line
                if now - since < LOG_INTERVAL or now < self.start_t + self.delay:
                    return False
                self._write_line(now)
                return True

            def close(self):
                # A bar that was shown (verbose=True, or "auto" past the delay) says where it
                # ended, unless its last line already did.
                if not getattr(self, "disable", True) and hasattr(self, "start_t"):
                    now = self._time()
                    if now >= self.start_t + self.delay and self.n != self._last_n:
                        self._write_line(now)
                super().close()

            def moveto(self, n):
                pass

            def clear(self, nolock=False):
                pass

            def _write_line(self, now):
                self.fp.write(f"{self}\n")
                self.fp.flush()
                self._last_line, self._last_n = now, self.n

        _LogBar = LogBar
    return _LogBar


_LogBar = None


def _in_notebook():
    """Whether this process is a Jupyter kernel that renders widgets (not a Qt console)."""
    if "ipykernel.zmqshell" not in sys.modules:
        return False
    return not any(key == "QT_API" or key.startswith("SPYDER") for key in os.environ)


def quiet_notebook_tqdm():
    """In a Jupyter kernel, import ``tqdm.auto`` once with its ipywidgets warning silenced.

    Libraries skhisto loads (huggingface_hub, through timm) import ``tqdm.auto``, which warns
    at import in a kernel without ``ipywidgets`` before falling back to the text bar; imported
    here first, it makes the same choice without a word. Called by ``import skhisto``.
    """
    if _in_notebook() and "tqdm.auto" not in sys.modules:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="IProgress not found")
            import tqdm.auto  # noqa: F401


@validate_params(
    {"n": NON_NEGATIVE_INT, "batch_size": POSITIVE_INT},
    prefer_skip_nested_validation=True,
)
def iter_slices(n, batch_size):
    """Yield consecutive ``slice`` objects covering ``range(n)``.

    Examples
    --------
    >>> from skhisto.utils import iter_slices
    >>> list(iter_slices(5, 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


@validate_params(
    {"tensor": [HasMethods(["to", "pin_memory"])], "device": TORCH_DEVICE},
    prefer_skip_nested_validation=True,
)
def to_device(tensor, device):
    """Copy a CPU tensor to ``device``, through pinned memory on CUDA.

    Examples
    --------
    >>> import torch
    >>> from skhisto.utils import to_device
    >>> to_device(torch.ones(2), torch.device("cpu")).device
    device(type='cpu')
    """
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


@validate_params(
    {"array": ["array-like"], "batch_size": POSITIVE_INT, "device": TORCH_DEVICE},
    prefer_skip_nested_validation=True,
)
def iter_array_batches(array, batch_size, device):
    """Yield ``torch`` batches of a numpy array on ``device`` without copying it whole.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skhisto.utils import iter_array_batches
    >>> batches = iter_array_batches(np.arange(5), 2, torch.device("cpu"))
    >>> [batch.tolist() for batch in batches]
    [[0, 1], [2, 3], [4]]
    """
    import torch  # here, so that the numpy-only helpers above import without torch

    for batch in iter_slices(len(array), batch_size):
        yield to_device(torch.from_numpy(writable(array[batch])), device)


@validate_params(
    {"n": NON_NEGATIVE_INT, "batch_size": POSITIVE_INT},
    prefer_skip_nested_validation=True,
)
def n_batches(n, batch_size):
    """Number of batches of ``batch_size`` needed for ``n`` items.

    Examples
    --------
    >>> from skhisto.utils import n_batches
    >>> n_batches(10, 4), n_batches(8, 4)
    (3, 2)
    """
    return -(-n // batch_size)


def writable(array):
    """``array``, copied only if read-only.

    torch warns, once per process, when it wraps a read-only array (a
    memory-mapped ``np.load(..., mmap_mode="r")``, or a float32 DataFrame's
    values under pandas' copy-on-write); every user array reaches torch
    through this.
    """
    return np.require(array, requirements="W")
