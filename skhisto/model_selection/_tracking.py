"""Experiment tracking: a run's metadata, every head fit's epochs and the results, logged to
TensorBoard or MLflow (the optional ``tracking`` extra).

The heads log through a skorch callback (:meth:`Tracker.callback`). Each fit is named by the
tags in force when it starts (:meth:`Tracker.tags`; :func:`compare_backbones` and
:func:`noise_robustness_curve` set ``backbone``, ``head``, ``loss`` and ``rate``) and a
counter, e.g. ``head=MLPHead/rate=0.2/fold0``, so fits never overwrite each other.
"""

import os
import re
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from numbers import Real
from pathlib import Path

from ..utils._epochs import epoch_listener
from ..utils._optional import import_tracking
from ..utils._sklearn_compat import StrOptions, validate_params

BACKENDS = ("tensorboard", "mlflow")
# (tags as (name, value) pairs, the word that counts fits): set by Tracker.tags / fit_tags.
_FIT_TAGS = ContextVar("skhisto_fit_tags", default=((), "fit"))
# the scalars a head's history holds per epoch, in the order logged
EPOCH_KEYS = ("train_loss", "valid_loss", "valid_acc")


def _word(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


@contextmanager
def fit_tags(unit=None, **tags):
    """Name the head fits started inside the block with ``tags`` (added to those in force).

    ``unit``: what the fits inside are counted as (``"fold"``: ``.../fold0``, ``.../fold1``).
    Tags whose value is None or ``""`` are left out.
    """
    outer, outer_unit = _FIT_TAGS.get()
    added = tuple((name, _word(value)) for name, value in tags.items() if value not in (None, ""))
    token = _FIT_TAGS.set((outer + added, unit or outer_unit))
    try:
        yield
    finally:
        _FIT_TAGS.reset(token)


def _flat(params, prefix=""):
    """Nested mappings as one level of ``a.b`` keys with text values."""
    flat = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat(value, f"{name}."))
        else:
            if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalars
                value = value.item()
            flat[name] = value if isinstance(value, str) else repr(value)
    return flat


def _rows(rows):
    """A DataFrame or an iterable of mappings as a list of dicts."""
    if hasattr(rows, "to_dict"):
        return rows.to_dict("records")
    return [dict(row) for row in rows]


class Tracker:
    """One tracked run: its metadata, each head fit's epochs and the results.

    Made by :func:`make_tracker`; ``with make_tracker(...) as tracker:`` closes
    the run at the end (an MLflow run ends ``FAILED`` when the block raises).

    Attributes
    ----------
    backend : str
        ``"tensorboard"`` or ``"mlflow"``.
    location : str
        Where this run's logs are: the TensorBoard event folder, or the MLflow
        tracking URI.
    view_command : str
        The command that shows the logs (``tensorboard --logdir ...``,
        ``mlflow ui --backend-store-uri ...``).
    fit_names : list of str
        The name of each fit logged so far (:meth:`next_fit`), in order.

    Examples
    --------
    >>> import tempfile
    >>> from skhisto.model_selection import make_tracker
    >>> with make_tracker("tensorboard", log_dir=tempfile.mkdtemp(), run_name="demo") as tracker:
    ...     _ = tracker.log_params({"config": {"rates": [0.0, 0.4]}, "seed": 0})
    ...     _ = tracker.log_metrics({"loss": 0.7}, step=1)
    ...     with tracker.tags(rate=0.4):
    ...         callback = tracker.callback()  # for MLPHead(net_params={"callbacks": [...]})
    >>> tracker.view_command.split()[:2]
    ['tensorboard', '--logdir']
    """

    backend = None

    def __init__(self, location, view_command):
        self.location = location
        self.view_command = view_command
        self.fit_names = []
        self._fits = {}
        self._closed = False

    def __repr__(self):
        return f"<{type(self).__name__} {self.location}>"

    def __deepcopy__(self, memo):  # one run: clones of a head and its callback share it
        return self

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        self.close(failed=kind is not None)

    def log_params(self, params):
        """Log the run's metadata (resolved config, provenance) once.

        Parameters
        ----------
        params : dict
            Nested mappings become ``a.b`` keys; other values are logged as
            text (MLflow params; a TensorBoard text table under ``params``).

        Returns
        -------
        self : Tracker

        Examples
        --------
        >>> import tempfile
        >>> from skhisto.model_selection import make_tracker
        >>> with make_tracker("tensorboard", log_dir=tempfile.mkdtemp()) as tracker:
        ...     _ = tracker.log_params({"provenance": {"backbone": "resnet18"}})
        """
        self._params(_flat(params))
        return self

    def log_metrics(self, metrics, step=None):
        """Log scalars at ``step``.

        Parameters
        ----------
        metrics : dict of str to float
            Scalar name (``/`` groups them) and value; None values are skipped.
        step : int, default=None
            The x-axis value (an epoch, a round); None logs at step 0.

        Returns
        -------
        self : Tracker

        Examples
        --------
        >>> import tempfile
        >>> from skhisto.model_selection import make_tracker
        >>> with make_tracker("tensorboard", log_dir=tempfile.mkdtemp()) as tracker:
        ...     _ = tracker.log_metrics({"simclr/loss": 4.2}, step=1)
        """
        step = 0 if step is None else int(step)
        for name, value in metrics.items():
            if value is not None:
                self._scalar(str(name), float(value), step)
        return self

    def log_table(self, rows, *, keys=(), step=None, metrics=None, prefix="results"):
        """Log a results table as scalars, one series per setting.

        Each row's ``metrics`` are logged as ``prefix/key=value/.../metric``
        (the row's ``keys`` columns name the series) at the row's ``step``.

        Parameters
        ----------
        rows : pandas.DataFrame or iterable of dict
            The table.
        keys : sequence of str, default=()
            Columns naming the series (``backbone``, ``head``, ``loss``).
        step : str, default=None
            An integer column giving each row's step (a round, an epoch, a
            noise rate in percent); None logs every row at step 0.
        metrics : sequence of str, default=None
            The columns to log; None logs every numeric column but ``keys``
            and ``step``.
        prefix : str, default="results"
            The first part of every scalar's name.

        Returns
        -------
        self : Tracker

        Examples
        --------
        >>> import tempfile
        >>> from skhisto.model_selection import make_tracker
        >>> rows = [{"head": "MLPHead", "rate_percent": 0, "score": 0.9},
        ...         {"head": "MLPHead", "rate_percent": 40, "score": 0.7}]
        >>> with make_tracker("tensorboard", log_dir=tempfile.mkdtemp()) as tracker:
        ...     _ = tracker.log_table(rows, keys=["head"], step="rate_percent")
        """
        skipped = {*keys, step}
        for row in _rows(rows):
            names = metrics
            if names is None:
                names = [
                    k
                    for k, v in row.items()
                    if k not in skipped and isinstance(v, Real) and not isinstance(v, bool)
                ]
            series = "/".join(f"{k}={_word(row[k])}" for k in keys if row.get(k) not in (None, ""))
            base = "/".join(part for part in (prefix, series) if part)
            self.log_metrics(
                {f"{base}/{name}" if base else name: row[name] for name in names},
                step=None if step is None else row[step],
            )
        return self

    @contextmanager
    def tags(self, **tags):
        """Name the head fits started inside the block (``seed=0``, ``fold=2``).

        Tags nest; :func:`compare_backbones` and :func:`noise_robustness_curve`
        add ``backbone``, ``head``, ``loss`` and ``rate`` and count folds.

        Parameters
        ----------
        **tags
            Name and value of each tag; a None or ``""`` value is left out.

        Yields
        ------
        None

        Examples
        --------
        >>> import tempfile
        >>> from skhisto.model_selection import make_tracker
        >>> with make_tracker("tensorboard", log_dir=tempfile.mkdtemp()) as tracker:
        ...     with tracker.tags(seed=0):
        ...         name = tracker.next_fit("MLPHead")
        >>> name
        'MLPHead/seed=0/fit0'
        """
        with fit_tags(**tags):
            yield

    def next_fit(self, prefix=None):
        """The name of a fit starting now: ``prefix``, the tags in force and a counter.

        Parameters
        ----------
        prefix : str, default=None
            The name's first part (a head's name), if any.

        Returns
        -------
        name : str
            E.g. ``"head=MLPHead/rate=0.2/fold0"``.

        Examples
        --------
        >>> import tempfile
        >>> from skhisto.model_selection import make_tracker
        >>> with make_tracker("tensorboard", log_dir=tempfile.mkdtemp()) as tracker:
        ...     names = [tracker.next_fit(), tracker.next_fit()]
        >>> names
        ['fit0', 'fit1']
        """
        tags, unit = _FIT_TAGS.get()
        parts = [prefix] if prefix else []
        parts += [f"{name}={value}" for name, value in tags]
        key = "/".join(parts)
        count = self._fits.get(key, 0)
        self._fits[key] = count + 1
        self.fit_names.append("/".join([*parts, f"{unit}{count}"]))
        return self.fit_names[-1]

    def callback(self, prefix=None):
        """A skorch callback logging each epoch of a head fit (``train_loss``,
        ``valid_loss``, ``valid_acc``) under the fit's name (:meth:`next_fit`).

        Pass it as ``MLPHead(net_params={"callbacks": [tracker.callback()]})``.
        Clones of the head (cross-validation, :func:`compare_backbones`) share
        this tracker; a pickled callback is inert, so fits in other processes
        (``n_jobs`` > 1 with joblib's default backend) log nothing.

        Parameters
        ----------
        prefix : str, default=None
            The first part of every fit's name.

        Returns
        -------
        callback : skorch.callbacks.Callback

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from skhisto import LinearHead
        >>> from skhisto.model_selection import make_tracker
        >>> X, y = np.random.default_rng(0).normal(size=(20, 4)), np.repeat([0, 1], 10)
        >>> with make_tracker("tensorboard", log_dir=tempfile.mkdtemp()) as tracker:
        ...     head = LinearHead(max_epochs=2, net_params={"callbacks": [tracker.callback()]})
        ...     _ = head.fit(X, y)
        >>> tracker.fit_names
        ['fit0']
        """
        from ._tracking_callback import TrackingCallback

        return TrackingCallback(self, prefix)

    @contextmanager
    def epochs(self, prefix=None):
        """Log every epoch that a training loop without skorch reports inside the block.

        :class:`~skhisto.SimCLREmbedder` (also inside
        :class:`~skhisto.ActiveSimCLR`) reports each finished epoch; its
        numeric fields (``loss``, ``time``, ``n_images``) are logged as
        ``prefix/tags/simclr/loss`` at the epoch's step, the tags being those
        in force (:meth:`tags`).

        Parameters
        ----------
        prefix : str, default=None
            The first part of every scalar's name.

        Yields
        ------
        None

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from skhisto import SimCLREmbedder
        >>> from skhisto.model_selection import make_tracker
        >>> X = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
        >>> model = SimCLREmbedder(
        ...     image_size=32, batch_size=4, max_epochs=2, device="cpu", random_state=0,
        ...     verbose=False,
        ... )
        >>> with make_tracker("tensorboard", log_dir=tempfile.mkdtemp()) as tracker:
        ...     with tracker.tags(seed=0), tracker.epochs():
        ...         _ = model.fit(X)  # logs seed=0/simclr/loss at steps 1 and 2
        """

        def log(name, epoch, record):
            tags, _ = _FIT_TAGS.get()
            parts = [prefix] if prefix else []
            parts += [f"{tag}={value}" for tag, value in tags]
            base = "/".join([*parts, name])
            self.log_metrics(
                {
                    f"{base}/{key}": value
                    for key, value in record.items()
                    if key != "epoch" and isinstance(value, Real) and not isinstance(value, bool)
                },
                step=epoch,
            )

        with epoch_listener(log):
            yield
        self.flush()

    def flush(self):
        """Write what is buffered (TensorBoard); the callbacks call it after each fit.

        Returns
        -------
        self : Tracker

        Examples
        --------
        >>> import tempfile
        >>> from skhisto.model_selection import make_tracker
        >>> with make_tracker("tensorboard", log_dir=tempfile.mkdtemp()) as tracker:
        ...     _ = tracker.log_metrics({"loss": 1.0}).flush()
        """
        return self

    def close(self, failed=False):
        """End the run (flushes TensorBoard, ends the MLflow run); a second call does nothing.

        Parameters
        ----------
        failed : bool, default=False
            Whether the run failed (MLflow records it ``FAILED``).

        Returns
        -------
        None

        Examples
        --------
        >>> import tempfile
        >>> from skhisto.model_selection import make_tracker
        >>> tracker = make_tracker("tensorboard", log_dir=tempfile.mkdtemp())
        >>> tracker.close()
        """
        if not self._closed:
            self._closed = True
            self._close(failed)


class _TensorBoard(Tracker):
    backend = "tensorboard"

    def __init__(self, log_dir, run_name):
        import_tracking("tensorboard", "logging to TensorBoard")
        from torch.utils.tensorboard import SummaryWriter

        root = Path("runs" if log_dir is None else log_dir)
        folder = root / (run_name or datetime.now().strftime("%Y%m%d-%H%M%S"))
        base, n = folder, 1
        while folder.exists():  # a run never writes into another's folder
            n += 1
            folder = base.with_name(f"{base.name}-{n}")
        self._writer = SummaryWriter(log_dir=str(folder))
        super().__init__(str(folder), f"tensorboard --logdir {root}")

    def _params(self, flat):
        lines = ["| name | value |", "| --- | --- |"]
        lines += [f"| {name} | {value.replace('|', '/')} |" for name, value in flat.items()]
        self._writer.add_text("params", "\n".join(lines))

    def _scalar(self, name, value, step):
        self._writer.add_scalar(name, value, step)

    def flush(self):
        self._writer.flush()
        return self

    def _close(self, failed):
        self._writer.close()


# MLflow names: alphanumerics, _ - . space and /; every other character becomes _.
_MLFLOW_UNSAFE = re.compile(r"[^\w\-. /]")
# MLflow's limit on a param's value (6,000 characters since 1.28)
_MLFLOW_PARAM_CHARS = 6000


def _mlflow_uri(log_dir):
    """A tracking URI: a URI as it is, a folder as a ``file:`` URI (None: MLflow's own, or
    ``./mlruns``)."""
    if log_dir is None:
        log_dir = os.environ.get("MLFLOW_TRACKING_URI") or "mlruns"
    text = str(log_dir)
    if re.match(r"^[A-Za-z][\w+.-]+:", text):  # a scheme (not a Windows drive letter)
        return text
    return Path(text).resolve().as_uri()


@contextmanager
def _file_store_allowed(uri):
    """MLflow 3 keeps its file store only when asked (MLFLOW_ALLOW_FILE_STORE); a ``file:``
    URI given here asks for it. The store is built (and cached by MLflow) inside the block."""
    if not uri.startswith("file:") or "MLFLOW_ALLOW_FILE_STORE" in os.environ:
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


class _Mlflow(Tracker):
    backend = "mlflow"

    def __init__(self, log_dir, run_name, experiment):
        import_tracking("mlflow", "logging to MLflow")
        from mlflow.tracking import MlflowClient

        uri = _mlflow_uri(log_dir)
        with _file_store_allowed(uri):
            self._client = MlflowClient(tracking_uri=uri)
            found = self._client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else None
            if experiment_id is None:
                experiment_id = self._client.create_experiment(experiment)
            self.run_id = self._client.create_run(experiment_id, run_name=run_name).info.run_id
        view = f"mlflow ui --backend-store-uri {uri}"
        if uri.startswith("file:"):
            view = f"MLFLOW_ALLOW_FILE_STORE=true {view}"
        super().__init__(uri, view)

    def _params(self, flat):
        from mlflow.entities import Param

        params = [
            Param(_MLFLOW_UNSAFE.sub("_", name), value[:_MLFLOW_PARAM_CHARS])
            for name, value in flat.items()
        ]
        for start in range(0, len(params), 100):  # MLflow takes 100 params per batch
            self._client.log_batch(self.run_id, params=params[start : start + 100])

    def _scalar(self, name, value, step):
        self._client.log_metric(self.run_id, _MLFLOW_UNSAFE.sub("_", name), value, step=step)

    def _close(self, failed):
        self._client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")


@validate_params(
    {
        "backend": [StrOptions(set(BACKENDS))],
        "log_dir": [str, os.PathLike, None],
        "run_name": [str, None],
        "experiment": [str],
    },
    prefer_skip_nested_validation=True,
)
def make_tracker(backend, *, log_dir=None, run_name=None, experiment="skhisto"):
    """Open a tracked run in TensorBoard or MLflow (the ``tracking`` extra).

    The run logs its metadata (:meth:`Tracker.log_params`), each head fit's
    epochs through a skorch callback (:meth:`Tracker.callback`) and the
    results table (:meth:`Tracker.log_table`). TensorBoard and MLflow are
    imported here, never by ``import skhisto``; a missing one raises an
    ImportError naming ``pip install 'skhisto[tracking]'``.

    Parameters
    ----------
    backend : {"tensorboard", "mlflow"}
        Where to log.
    log_dir : str or path-like, default=None
        TensorBoard: the folder holding one event folder per run (None:
        ``runs``). MLflow: a tracking URI (``http://...``, ``sqlite:///...``)
        or a folder, used as a ``file:`` store (None: ``MLFLOW_TRACKING_URI``,
        else ``./mlruns``).
    run_name : str, default=None
        The run's name (TensorBoard: its folder, made unique with ``-2``,
        ``-3``; None: the date and time). MLflow names a run itself when None.
    experiment : str, default="skhisto"
        The MLflow experiment (created when missing); TensorBoard has none.

    Returns
    -------
    tracker : Tracker
        The open run; close it (or use it in a ``with`` block).

    See Also
    --------
    compare_backbones, noise_robustness_curve : Name each head fit they make
        (backbone, head, loss, rate, fold).

    Examples
    --------
    Every epoch of every fit of a noise curve, then its results:

    >>> import tempfile
    >>> import numpy as np
    >>> from skhisto import LinearHead
    >>> from skhisto.model_selection import make_tracker, noise_robustness_curve
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> X = rng.normal(size=(40, 4)) + y[:, None]
    >>> with make_tracker("tensorboard", log_dir=tempfile.mkdtemp()) as tracker:
    ...     _ = tracker.log_params({"seed": 0, "head": "LinearHead"})
    ...     head = LinearHead(max_epochs=3, net_params={"callbacks": [tracker.callback()]})
    ...     curve = noise_robustness_curve(head, X, y, [0.0, 0.4], cv=2, random_state=0)
    ...     curve["rate_percent"] = (100 * curve["rate"]).round().astype(int)
    ...     _ = tracker.log_table(curve, keys=["estimator"], step="rate_percent", metrics=["score"])
    >>> tracker.fit_names  # each epoch's losses are under these names
    ['rate=0/fold0', 'rate=0/fold1', 'rate=0.4/fold0', 'rate=0.4/fold1']
    """
    if backend == "tensorboard":
        return _TensorBoard(log_dir, run_name)
    return _Mlflow(log_dir, run_name, experiment)
