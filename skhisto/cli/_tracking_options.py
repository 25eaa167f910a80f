"""``--log-to {tensorboard,mlflow}`` and ``--log-dir DIR``: an experiment's run tracked with
:func:`skhisto.model_selection.make_tracker`.

A command opens the run with :func:`run_tracker` once its own checks pass (the run's
options and skhisto version are its first params); ``main`` closes it with
:func:`close_tracker` and says where the logs are and how to view them.
"""

from contextlib import contextmanager
from pathlib import Path

from ._config import resolved_config
from ._errors import CommandError
from ._outputs import announce

BACKENDS = ("tensorboard", "mlflow")
NAMES = {"tensorboard": "TensorBoard", "mlflow": "MLflow"}
# the run's tracker, once a command opened it
_OPEN = {}


def add_tracking_arguments(parser, what):
    """Add ``--log-to`` and ``--log-dir``; ``what`` says what is logged besides the options."""
    group = parser.add_argument_group("tracking (pip install 'skhisto[tracking]')")
    group.add_argument(
        "--log-to",
        choices=BACKENDS,
        help=f"log the run to TensorBoard or MLflow: its options, provenance and {what}",
    )
    group.add_argument(
        "--log-dir",
        metavar="DIR",
        help="TensorBoard: the folder of the runs' event folders (default: <out-dir>/runs, "
        "embed: the --out file's folder/runs); "
        "MLflow: a tracking URI or a folder (default: $MLFLOW_TRACKING_URI, else ./mlruns)",
    )


def run_tracker(command, args, **params):
    """The run's :class:`~skhisto.model_selection.Tracker`, opened on the first call (None
    without ``--log-to``); ``params`` are logged (provenance) on every call."""
    if getattr(args, "log_to", None) is None:
        if getattr(args, "log_dir", None) is not None:
            raise CommandError("--log-dir goes with --log-to tensorboard or mlflow")
        return None
    tracker = _OPEN.get("tracker")
    if tracker is None:
        from .. import __version__
        from ..model_selection import make_tracker

        log_dir = args.log_dir
        if log_dir is None and args.log_to == "tensorboard":
            log_dir = _output_folder(args) / "runs"
        tracker = make_tracker(args.log_to, log_dir=log_dir, experiment=f"skhisto {command}")
        _OPEN.update(tracker=tracker, command=command)
        tracker.log_params(
            {"command": command, "skhisto_version": __version__, "config": resolved_config(args)}
        )
    if params:
        tracker.log_params(params)
    return tracker


def _output_folder(args):
    """Where the command writes: ``--out-dir``, else ``--out``'s folder (embed), else here."""
    if getattr(args, "out_dir", None) is not None:
        return Path(args.out_dir)
    if getattr(args, "out", None) is not None:
        return Path(args.out).parent
    return Path(".")


def current_tracker():
    """The tracker :func:`run_tracker` opened in this run, or None."""
    return _OPEN.get("tracker")


def close_tracker(failed):
    """End the run's tracked run, if one was opened, and say where its logs are."""
    tracker = _OPEN.pop("tracker", None)
    command = _OPEN.pop("command", None)
    if tracker is None:
        return
    tracker.close(failed=failed)
    if not failed:
        # mlflow-skinny (the tracking extra's) logs; its UI server comes with the full package
        ui = " (the UI comes with `pip install mlflow`)" if tracker.backend == "mlflow" else ""
        announce(
            command,
            f"logged to {NAMES[tracker.backend]} in {tracker.location}; view with: "
            f"{tracker.view_command}{ui}",
        )


def head_params(prefix=None):
    """The keyword arguments that log a head's fits to the run's tracker (``{}`` without one):
    ``net_params={"callbacks": [tracker.callback(prefix)]}``."""
    tracker = current_tracker()
    if tracker is None:
        return {}
    return {"net_params": {"callbacks": [tracker.callback(prefix)]}}


def log_results(rows, **keywords):
    """:meth:`~skhisto.model_selection.Tracker.log_table` of ``rows`` to the run's tracker, if
    any."""
    tracker = current_tracker()
    if tracker is not None:
        tracker.log_table(rows, **keywords)


def log_metrics(metrics):
    """:meth:`~skhisto.model_selection.Tracker.log_metrics` (step 0) to the run's tracker, if
    any: a command's results that are single numbers."""
    tracker = current_tracker()
    if tracker is not None:
        tracker.log_metrics(metrics)


@contextmanager
def logged_epochs(prefix=None):
    """Around a SimCLR fit: each epoch's loss to the run's tracker, if any, under ``prefix``
    (:meth:`~skhisto.model_selection.Tracker.epochs`)."""
    tracker = current_tracker()
    if tracker is None:
        yield
        return
    with tracker.epochs(prefix):
        yield
