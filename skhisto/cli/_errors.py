"""One-line errors and exit codes shared by every ``skhisto`` subcommand.

Exit codes: 0 success, 1 the run failed, 2 the command line is wrong (as
argparse), 130 interrupted (Ctrl-C). Errors are one line on stderr,
``skhisto <command>: error: <what>``; ``--debug`` shows the traceback instead.
"""

import argparse
import logging
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

USAGE_ERROR = 2
RUNTIME_ERROR = 1
INTERRUPTED = 130


#: Folders a command created for its output, (top, folder): removed again if the run fails
#: and they are still empty, so a failed run leaves no empty ./results behind.
CREATED_DIRS = []


def note_created(folder):
    """Remember which of ``folder`` and its parents do not exist yet: the command creates them."""
    folder = os.path.abspath(folder)
    missing = [p for p in (folder, *map(str, Path(folder).parents)) if not os.path.exists(p)]
    if missing:
        CREATED_DIRS.append((missing[-1], folder))


def remove_empty_created():
    """Remove the output folders this run created that are still empty (innermost first)."""
    while CREATED_DIRS:
        top, folder = CREATED_DIRS.pop()
        current = folder
        while True:
            try:
                os.rmdir(current)  # fails, and stops, on a folder that holds anything
            except OSError:
                break
            if current == top:
                break
            current = os.path.dirname(current)


class CommandError(Exception):
    """A run that cannot go on; its message is the one line the user sees."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, not the usage block."""

    def error(self, message):
        report(self.prog, f"{message} (see '{self.prog} --help')")
        self.exit(USAGE_ERROR)


def report(prog, message, kind="error"):
    """Write ``prog: kind: message`` on stderr, folded onto one line."""
    line = " ".join(str(message).split())
    print(f"{prog}: {kind}: {line}", file=sys.stderr, flush=True)


def run_command(prog, command, args):
    """Run ``command(args)`` and turn its failure into one line and an exit code."""
    if args.debug:
        return command(args) or 0

    said = set()

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        if str(message) not in said:  # a warning of each fold or head is said once
            said.add(str(message))
            report(prog, message, kind="warning")

    # Download retries are logged line by line; the error that ends them is the one line.
    # (HF_HUB_VERBOSITY for a hub imported during the run, the level for one imported before.)
    hub_log = logging.getLogger("huggingface_hub")
    level, verbosity = hub_log.level, os.environ.get("HF_HUB_VERBOSITY")
    hub_log.setLevel(logging.ERROR)
    os.environ.setdefault("HF_HUB_VERBOSITY", "error")
    CREATED_DIRS.clear()
    with warnings.catch_warnings():
        warnings.showwarning = one_line_warning
        try:
            code = command(args) or 0
            if code:
                remove_empty_created()
            return code
        except KeyboardInterrupt:
            remove_empty_created()
            report(prog, "interrupted; no partial file was left")
            return INTERRUPTED
        except BrokenPipeError:  # `skhisto backbones | head`: the reader left, not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except Exception as exc:  # every failure, as one line (--debug shows the traceback)
            remove_empty_created()
            report(prog, str(exc) or type(exc).__name__)
            return RUNTIME_ERROR
        finally:
            hub_log.setLevel(level)
            if verbosity is None:
                os.environ.pop("HF_HUB_VERBOSITY", None)


@contextmanager
def checkpoint_errors_in_cli_words():
    """A checkpoint error names ``--checkpoint-dir``, not the Python parameter."""
    from ..exceptions import CheckpointError

    try:
        yield
    except CheckpointError as exc:
        message = str(exc).replace("checkpoint_dir=", "--checkpoint-dir")
        raise CommandError(message.replace("checkpoint=", "--checkpoint-dir")) from exc
