"""``skhisto-cli`` directive: the ``--help`` of ``skhisto`` and of every subcommand.

The text comes from :func:`skhisto.cli.build_parser` at build time, so a new subcommand
appears on the page without editing the docs.
"""

import argparse
import os
from contextlib import contextmanager

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

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
    """One section per command, titled by the command, holding its ``--help``.

    The nodes are built here rather than parsed from text: in a MyST page a directive's
    nested content would be parsed as Markdown.
    """

    has_content = False

    def run(self):
        return [self._section(command, text) for command, text in command_helps()]

    def _section(self, command, text):
        name = nodes.fully_normalize_name(command)
        section = nodes.section(ids=[nodes.make_id(name)], names=[name])
        title = nodes.title()
        title += nodes.literal(command, command)
        section += title
        section += nodes.literal_block(text, text, language="text")
        self.state.document.note_implicit_target(section, section)
        return section


def setup(app):
    app.add_directive("skhisto-cli", CommandLineHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
