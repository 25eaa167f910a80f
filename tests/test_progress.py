"""Long work speaks, short work stays quiet, and the bar fits the front end without warnings."""

import sys
import time
import types
import warnings

import numpy as np
import pytest

from skhisto.utils import _batching, progress


def _consume(iterable, pause=0.0):
    for _ in iterable:
        time.sleep(pause)


def test_auto_shows_a_bar_once_a_run_outlasts_the_delay(monkeypatch, capsys):
    monkeypatch.setattr(_batching, "PROGRESS_DELAY", 0.05)
    # Few items (the old rule hid runs under 20 batches), but slow ones.
    _consume(progress(range(5), total=5, desc="slow stage"), pause=0.03)
    err = capsys.readouterr().err
    assert "slow stage" in err and "/5" in err


def test_auto_keeps_a_fast_run_quiet_however_many_batches(capsys):
    _consume(progress(range(1000), total=1000, desc="fast stage"))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("verbose", "shown"), [(True, True), (False, False), (0, False)])
def test_true_and_false_force_the_bar(verbose, shown, capsys):
    _consume(progress(range(3), total=3, desc="forced", verbose=verbose))
    assert ("forced" in capsys.readouterr().err) is shown


def test_without_a_terminal_nested_bars_are_plain_lines(monkeypatch, capsys):
    """Redirected stderr (a file, CI logs) gets no blank lines, carriage returns or cursor-up
    escapes from nested bars: a line per interval and one at each bar's end."""
    monkeypatch.setattr(_batching, "LOG_INTERVAL", 0.05)
    for _ in progress(range(2), total=2, desc="outer", verbose=True):
        inner = progress(range(4), total=4, desc="inner", verbose=True)
        inner.set_postfix(loss="1.0")  # a redraw request between intervals writes nothing
        _consume(inner, pause=0.03)
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    assert lines and all(line.startswith(("outer: ", "inner: ")) for line in lines)
    assert lines[-1].startswith("outer: 100% 2/2")
    assert sum(line.startswith("inner: 100% 4/4") for line in lines) == 2
    assert len(lines) > 3  # periodic lines while the inner bars run


def test_a_terminal_keeps_the_redrawn_bar(monkeypatch):
    import io

    from tqdm.std import tqdm

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert _batching._bar_class() is tqdm
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert issubclass(_batching._bar_class(), tqdm) and _batching._bar_class() is not tqdm


def _fake_notebook(monkeypatch, *, widgets):
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    for key in ("QT_API", "SPYDER_ARGS"):
        monkeypatch.delenv(key, raising=False)
    if widgets:
        notebook = types.ModuleType("tqdm.notebook")
        notebook.tqdm = type("NotebookBar", (), {})
        monkeypatch.setitem(sys.modules, "ipywidgets", types.ModuleType("ipywidgets"))
        monkeypatch.setitem(sys.modules, "tqdm.notebook", notebook)
        return notebook.tqdm
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` fails
    return None


def test_notebook_without_ipywidgets_gets_the_text_bar_and_no_warning(monkeypatch, capsys):
    from tqdm.std import tqdm

    _fake_notebook(monkeypatch, widgets=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a TqdmWarning would fail here
        assert _batching._bar_class() is tqdm
        _consume(progress(range(3), total=3, desc="in a notebook", verbose=True))
    assert "in a notebook" in capsys.readouterr().err


def test_notebook_with_ipywidgets_gets_the_widget_bar(monkeypatch):
    widget_bar = _fake_notebook(monkeypatch, widgets=True)
    assert _batching._bar_class() is widget_bar


def test_qt_console_is_not_a_notebook(monkeypatch):
    from tqdm.std import tqdm

    _fake_notebook(monkeypatch, widgets=True)
    monkeypatch.setenv("QT_API", "pyqt5")
    assert _batching._bar_class() is tqdm


@pytest.mark.slow
def test_the_long_loops_speak_under_their_defaults(monkeypatch, capsys):
    """The embedder and the active learner show their bars with default settings."""
    from sklearn.linear_model import LogisticRegression

    from skhisto import ActiveLearner, FoundationEmbedder, RandomSampling

    monkeypatch.setattr(_batching, "PROGRESS_DELAY", 0.0)
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    FoundationEmbedder(
        "resnet18", pretrained=False, image_size=32, batch_size=2, device="cpu", random_state=0
    ).fit_transform(images)
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 2
    ActiveLearner(LogisticRegression(), RandomSampling(), batch_size=4, n_rounds=2).fit(
        X, y, initial=[0, 1]
    )
    err = capsys.readouterr().err
    assert "embedding" in err and "rounds" in err


def test_import_skhisto_keeps_third_party_tqdm_auto_quiet_in_a_notebook(monkeypatch):
    """huggingface_hub (through timm) imports tqdm.auto, which warns in such a kernel."""
    import importlib

    from tqdm.std import TqdmWarning, tqdm

    pytest.importorskip("IPython")  # tqdm.autonotebook asks IPython for the shell
    _fake_notebook(monkeypatch, widgets=False)

    def forget_tqdm_auto():
        for name in ("tqdm.auto", "tqdm.autonotebook", "tqdm.notebook"):
            monkeypatch.delitem(sys.modules, name, raising=False)

    forget_tqdm_auto()
    with pytest.warns(TqdmWarning, match="IProgress not found"):  # the simulation is real
        importlib.import_module("tqdm.auto")
    forget_tqdm_auto()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _batching.quiet_notebook_tqdm()
        bar = importlib.import_module("tqdm.auto").tqdm
    assert issubclass(bar, tqdm) and bar.__module__ != "tqdm.notebook"  # the text bar, quietly
