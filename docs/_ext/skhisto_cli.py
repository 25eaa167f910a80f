"""``skhisto-cli`` directive: the ``--help`` of ``skhisto`` and of every subcommand.

The text comes from :func:`skhisto.cli.build_parser` at build time, so a new subcommand
appears on the page without editing the docs.
"""

import argparse
import os
from contextlib import contextmanager

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

#: Help text width: argparse reads it from $COLUMNS.
WIDTH = "88"


@contextmanager
def _columns(width):
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def command_helps():
    """``[(command, help text)]``: ``skhisto`` first, then each subcommand in order."""
    from skhisto.cli import build_parser

    with _columns(WIDTH):
        parser = build_parser()
        helps = [("skhisto", parser.format_help())]
        for action in parser._actions:  # argparse has no public accessor for subparsers
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    helps.append((f"skhisto {name}", sub.format_help()))
    return helps


class CommandLineHelp(SphinxDirective):
    """One section per command, titled by the command, holding its ``--help``."""

    has_content = False

    def run(self):
        lines = []
        for command, text in command_helps():
            lines += [f"``{command}``", "~" * (len(command) + 4), "", "::", ""]
            lines += [f"   {line}" if line else "" for line in text.splitlines()]
            lines.append("")
        container = nodes.section()
        nested_parse_with_titles(self.state, StringList(lines, source="skhisto-cli"), container)
        return container.children


def setup(app):
    app.add_directive("skhisto-cli", CommandLineHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
