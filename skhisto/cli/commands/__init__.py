"""The ``skhisto`` subcommands, one module each, all following one protocol.

A command module defines

``NAME``, ``HELP``, ``DESCRIPTION``, ``EPILOG``
    The subcommand's name, its line in ``skhisto --help``, and the text above
    and below its options in ``skhisto NAME --help``.
``add_arguments(parser)``
    Adds its arguments to its argparse sub-parser.
``run(args)``
    Runs it on the parsed arguments: reads the options, calls public library
    functions, and returns the exit status (0). A failure is an exception
    (``CommandError`` for the user's mistakes), turned into one line by
    ``skhisto.cli._errors.run_command``.

Commands import the shared ``skhisto.cli`` helpers, never each other, and only
public names of the library; torch is imported inside ``run``, so ``skhisto
--help`` stays fast. A new command is a module here and a line in ``COMMANDS``.
"""

from . import (
    active,
    active_simclr,
    audit,
    backbones,
    cache,
    doctor,
    embed,
    fetch,
    info,
    label_issues,
    noise_curve,
    qupath,
    review,
    simclr,
)

#: The subcommands, in ``skhisto --help`` order.
COMMANDS = (
    backbones,
    embed,
    info,
    noise_curve,
    label_issues,
    review,
    audit,
    active,
    simclr,
    active_simclr,
    cache,
    fetch,
    doctor,
    qupath,
)
