"""The skorch callback of :meth:`Tracker.callback` (apart, so that only it imports skorch)."""

from skorch.callbacks import Callback

from ._tracking import EPOCH_KEYS


class TrackingCallback(Callback):
    """Log each epoch's ``train_loss``, ``valid_loss`` and ``valid_acc`` to ``tracker``.

    Each fit gets its name from :meth:`Tracker.next_fit` when it starts. A
    copy (``clone`` of the head) shares the tracker; a pickled one is inert.

    Parameters
    ----------
    tracker : Tracker or None
        The run logged to (None: log nothing).
    prefix : str, default=None
        The first part of every fit's name.

    Examples
    --------
    >>> import tempfile
    >>> from skhisto.model_selection import make_tracker
    >>> with make_tracker("tensorboard", log_dir=tempfile.mkdtemp()) as tracker:
    ...     callback = tracker.callback("MLPHead")
    >>> type(callback).__name__
    'TrackingCallback'
    """

    def __init__(self, tracker, prefix=None):
        self.tracker = tracker
        self.prefix = prefix

    def __deepcopy__(self, memo):  # clone(head) deep-copies net_params: share the run
        return type(self)(self.tracker, self.prefix)

    def __getstate__(self):  # a pickled head holds no open writer or client
        return {**self.__dict__, "tracker": None}

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.fit_name_ = None if self.tracker is None else self.tracker.next_fit(self.prefix)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if self.tracker is None or getattr(self, "fit_name_", None) is None:
            return
        record = net.history[-1]
        metrics = {f"{self.fit_name_}/{key}": record[key] for key in EPOCH_KEYS if key in record}
        self.tracker.log_metrics(metrics, step=record["epoch"])

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if self.tracker is not None:
            self.tracker.flush()
