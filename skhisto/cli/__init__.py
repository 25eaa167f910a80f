"""The ``skhisto`` command: one subcommand per experiment, from embedding to Active SimCLR.

Each subcommand is a module of :mod:`skhisto.cli.commands` (see its protocol) and
imports torch only when it runs, so ``import skhisto.cli`` and ``skhisto --help``
stay fast.
"""

import argparse
import sys

from ._config import CONFIG_COMMANDS, add_config_argument, config_argv, write_resolved_config
from ._errors import USAGE_ERROR, CommandError, Parser, report, run_command
from ._provenance import start_run
from ._tracking_options import close_tracker
from .commands import COMMANDS

EPILOG = """\
examples:
  skhisto backbones
  skhisto embed ../shared/data/lc25000_lung --backbone resnet18 --no-pretrained --out emb.npz
  skhisto noise-curve ../shared/data/lc25000_lung --no-pretrained
  skhisto label-issues ../shared/data/lc25000_lung --no-pretrained --per-class 200
  skhisto active emb.npz --strategy random coreset typiclust
  skhisto simclr ../shared/data/lc25000_lung --out encoder.safetensors --image-size 64 --epochs 5
  skhisto active-simclr ../shared/data/lc25000_lung --strategy coreset --max-images 60
  skhisto cache info
  skhisto fetch crc-val-he-7k --dest ~/skhisto_data

exit status: 0 success, 1 the run failed, 2 a wrong command line, 130 interrupted.
Run `skhisto COMMAND --help` for a command's options.
"""


def _formatter(prog):
    # The epilogs' examples keep their lines; command names get room before their help.
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30)


def build_parser():
    """The ``skhisto`` argument parser, with one sub-parser per command."""
    from .. import __version__

    parser = Parser(
        prog="skhisto",
        description="Histopathology embeddings and experiments from the command line.",
        epilog=EPILOG,
        formatter_class=_formatter,
    )
    parser.add_argument("--version", action="version", version=f"skhisto {__version__}")
    debug = "show the full traceback of an error"
    parser.add_argument("--debug", action="store_true", help=debug)
    # Accepted after the command too; SUPPRESS keeps `skhisto --debug CMD` from being reset.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug)
    subparsers = parser.add_subparsers(title="commands", dest="command", required=True)
    for module in COMMANDS:
        sub = subparsers.add_parser(
            module.NAME,
            parents=[common],
            help=module.HELP,
            description=module.DESCRIPTION,
            epilog=module.EPILOG,
            formatter_class=_formatter,
        )
        module.add_arguments(sub)
        if module.NAME in CONFIG_COMMANDS:
            add_config_argument(sub, module.NAME)
        # parser: so that an unknown option is reported by its command
        sub.set_defaults(run=module.run, parser=sub)
    return parser


def main(argv=None):
    """Run the ``skhisto`` command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``skhisto`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 success, 1 the run failed, 2 a wrong command line
        (one line on stderr names the problem), 130 interrupted.

    Examples
    --------
    >>> from skhisto.cli import main
    >>> main(["backbones", "--format", "csv"])  # doctest: +ELLIPSIS
    name,family,embed_dim,input_size,mpp,gated,hub_id
    ctranspath,contrastive,768,224,1,False,
    ...
    0
    """
    parser = build_parser()
    words = sys.argv[1:] if argv is None else list(argv)
    try:
        words = config_argv(parser, words)  # --config FILE.yaml: its options, then argparse's
    except CommandError as exc:
        command = next((word for word in words if word in CONFIG_COMMANDS), None)
        report(f"skhisto {command}" if command else "skhisto", exc)
        return USAGE_ERROR
    try:
        args, unknown = parser.parse_known_args(words)
        if unknown:
            args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exc:  # --help, --version and usage errors: return, do not exit
        return exc.code if isinstance(exc.code, int) else 0
    # the embeddings files this run reads, and their provenance
    start_run(args.command, sys.argv[1:] if argv is None else argv)
    code = None
    try:
        code = run_command(f"skhisto {args.command}", args.run, args)
    finally:  # the run's TensorBoard or MLflow log (--log-to), when it opened one
        close_tracker(failed=code != 0)
    if code == 0:
        write_resolved_config(args)
    return code
