"""``--config FILE.yaml``: an experiment command's options read from a YAML file.

The file's keys are the command's option names, spelled as their ``dest``
(``max_epochs``) or as on the command line (``max-epochs``, ``--max-epochs``; a flag such as
``no-pretrained: true`` too, and ``batch-size`` where its dest is another name);
``input`` (or the positional's name) gives the positional argument. The values
are turned into command-line words and parsed by argparse itself, so a value's
type and choices are checked as on the command line, and an option given on the
command line wins over the file. An unknown key is refused, naming it and the
valid ones. After a successful run, the resolved options (file, command line and
defaults together) are written as ``<command>.config.yaml`` in ``--out-dir``
(``noise-curve.config.yaml``: commands sharing an ``--out-dir`` never overwrite each
other's), or beside ``--out`` as ``<out>.<command>.config.yaml`` for a command without
one, when ``--config`` was given; passing that file back as ``--config`` repeats the run.
"""

import argparse
from pathlib import Path

from ._errors import CommandError

#: The commands that take --config (the experiments, and embed).
CONFIG_COMMANDS = (
    "embed",
    "noise-curve",
    "label-issues",
    "active",
    "active-simclr",
    "audit",
    "simclr",
)
#: What a resolved config never holds: argparse's and the CLI's own entries.
_SKIPPED = {"help", "config", "debug", "run", "parser", "command", "version"}
#: The resolved config's name, after its command (one --out-dir holds several commands').
CONFIG_NAME = "{command}.config.yaml"


def config_name(command):
    """The name of ``command``'s resolved config (``noise-curve.config.yaml``)."""
    return CONFIG_NAME.format(command=command)


def add_config_argument(parser, command):
    """``--config FILE.yaml`` of ``command`` (read by :func:`config_argv` before argparse)."""
    parser.add_argument(
        "--config",
        metavar="FILE.yaml",
        help="read options from a YAML file whose keys are this command's option names, "
        "as in Python or on the command line (per_class: 20, random-state: 1, a list as "
        "[0, 0.4]); options on the command line win; the resolved options are written as "
        f"{config_name(command)} beside the results",
    )


def _require_yaml():
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency
        raise CommandError("--config reads YAML with PyYAML; pip install pyyaml") from None
    return yaml


def find_config(argv, commands):
    """(index of the command word, the --config path or None) in ``argv``."""
    for i, word in enumerate(argv):
        if word in commands:
            rest = argv[i + 1 :]
            for j, token in enumerate(rest):
                if token == "--":
                    break
                if token == "--config" and j + 1 < len(rest):
                    return i, rest[j + 1]
                if token.startswith("--config="):
                    return i, token.split("=", 1)[1]
            return i, None
    return None, None


def read_config(path):
    """The mapping of a YAML config file; a CommandError naming what is wrong."""
    yaml = _require_yaml()
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise CommandError(f"--config {path!r}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise CommandError(f"--config {path!r} is not valid YAML{at}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CommandError(
            f"--config {path!r} must be a mapping of option names to values "
            f"(max_epochs: 3), got a {type(data).__name__}"
        )
    return data


def _actions(parser):
    """{dest: [actions]} of the options and positionals a config may set."""
    found = {}
    for action in parser._actions:  # argparse's own list of what it parses
        if action.dest in _SKIPPED or action.dest is argparse.SUPPRESS:
            continue
        found.setdefault(action.dest, []).append(action)
    return found


def _key_dest(key, actions, positional_names):
    name = str(key).lstrip("-").replace("-", "_")
    if name in actions:
        return name
    return positional_names.get(name.lower())


def _refuse_another_commands(path, command):
    """A resolved config of another command (its first line names the command that wrote it:
    a config.yaml of an older skhisto, where commands sharing an --out-dir overwrote each
    other's, may be any command's) is refused, naming it."""
    import re

    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline()
    except OSError:  # read above
        return
    match = re.match(r"# skhisto (\S+): the resolved options of this run", first)
    if match and match.group(1) != command:
        raise CommandError(
            f"--config {path!r} holds the options of a skhisto {match.group(1)} run (its "
            f"first line); pass it to skhisto {match.group(1)}, or write one for {command}"
        )


def _option_action(key, actions):
    """The action whose option string the key spells (``batch-size``, ``no_pretrained``), when
    it is not its dest (``simclr``'s --batch-size sets ``simclr_batch_size``), or None."""
    option = "--" + str(key).lstrip("-").replace("_", "-")
    for group in actions.values():
        for action in group:
            if option in action.option_strings:
                return action
    return None


def _given(actions, words):
    """Whether the command line ``words`` set any of ``actions``' options."""
    for action in actions:
        for option in action.option_strings:
            if any(w == option or w.startswith(option + "=") for w in words):
                return True
    return False


def _words(action, value, path, key):
    """The command-line words that set ``action`` to ``value``."""
    option = next((o for o in action.option_strings if o.startswith("--")), None)
    option = option or action.option_strings[0]
    if isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise CommandError(f"--config {path!r}: {key} must be true or false, got {value!r}")
        return [option if value else _negative(action)]
    if action.nargs == 0:  # store_true, store_false, store_const, count
        if not isinstance(value, bool):
            raise CommandError(f"--config {path!r}: {key} must be true or false, got {value!r}")
        return [option] if _flag_value(action) is value else []
    many = action.nargs in ("+", "*") or (isinstance(action.nargs, int) and action.nargs > 1)
    values = value if isinstance(value, list) else [value]
    if not many and isinstance(value, list):
        if isinstance(action, argparse._AppendAction):
            return [word for item in value for word in (option, _text(item))]
        raise CommandError(f"--config {path!r}: {key} takes one value, got a list {value!r}")
    return [option, *map(_text, values)]


def _spelled_words(action, value, path, key):
    """The words of the option ``key`` spells: a flag (``no_pretrained: true``) is given when
    true and left out when false; any other option takes ``value`` as under its dest."""
    if action.nargs == 0 and not isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise CommandError(f"--config {path!r}: {key} must be true or false, got {value!r}")
        return [action.option_strings[0]] if value else []
    return _words(action, value, path, key)


def _negative(action):
    return next(o for o in action.option_strings if o.startswith("--no-"))


def _text(value):
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def config_argv(parser, argv):
    """``argv`` with the options of its ``--config`` file added where the command line does not
    set them (the file's positional becomes the default of the command's positional).

    ``parser``: the ``skhisto`` parser. Unknown keys raise a CommandError naming the key and
    the valid ones. Returns ``argv`` unchanged when it has no ``--config``.
    """
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = {name: sub for name, sub in subparsers.choices.items() if name in CONFIG_COMMANDS}
    index, path = find_config(argv, commands)
    if path is None:
        return argv
    sub = commands[argv[index]]
    config = read_config(path)
    _refuse_another_commands(path, argv[index])
    actions = _actions(sub)
    positionals = {a.dest: a for group in actions.values() for a in group if not a.option_strings}
    positional_names = {str(a.metavar or a.dest).lower(): a.dest for a in positionals.values()} | {
        "input": next(iter(positionals), None)
    }
    rest = argv[index + 1 :]
    added = []
    for key, value in config.items():
        dest = _key_dest(key, actions, positional_names)
        spelled = None if dest is not None else _option_action(key, actions)
        if dest is None and spelled is None:
            valid = ", ".join(sorted(actions))
            raise CommandError(
                f"--config {path!r}: unknown key {key!r}; skhisto {argv[index]} takes {valid}"
            )
        if value is None:  # null: the default
            continue
        if spelled is not None:  # the key spells an option: its own words
            if not _given(actions[spelled.dest], rest):
                added += _spelled_words(spelled, value, path, key)
            continue
        if dest in positionals:
            _default_positional(positionals[dest], value)
            continue
        if _given(actions[dest], rest):
            continue
        option_actions = [a for a in actions[dest] if a.option_strings]
        added += _words(_pick(option_actions, value), value, path, key)
    # after the command line's own words ("--" ends them), so a trailing nargs="+" option of
    # the command line cannot swallow them
    if "--" in rest:
        cut = rest.index("--")
        rest = rest[:cut] + added + rest[cut:]
    else:
        rest = rest + added
    return [*argv[: index + 1], *rest]


def _pick(actions, value):
    """The action of a dest that takes ``value``: a flag of the same truth for a bool
    (``pretrained: false`` -> ``--no-pretrained``, ``groups: false`` -> ``--no-groups``)."""
    if isinstance(value, bool):
        for action in actions:
            if action.nargs == 0 and _flag_value(action) is value:
                return action
        flags = [a for a in actions if a.nargs == 0]
        if flags and len(flags) == len(actions):
            return flags[0]
    return next((a for a in actions if a.nargs != 0), actions[0])


def _flag_value(action):
    if isinstance(action, argparse._StoreFalseAction):
        return False
    if isinstance(action, argparse._StoreTrueAction):
        return True
    return action.const if isinstance(action.const, bool) else None


def _default_positional(action, value):
    """The file's value for a positional, used when the command line gives none."""
    if action.nargs in ("+", "*"):
        action.nargs = "*"
        action.default = [str(v) for v in (value if isinstance(value, list) else [value])]
        if action.type is not None:
            action.default = [action.type(v) for v in action.default]
    else:
        action.nargs = "?"
        action.default = str(value)
    action.required = False


def resolved_config(args):
    """The options of a parsed command line, as YAML-ready values by dest name."""
    config = {}
    for dest in _actions(args.parser):
        value = getattr(args, dest, None)
        config[dest] = _plain(value)
    return config


def _plain(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def write_resolved_config(args):
    """Write the resolved options beside the run's results; the path, or None."""
    if args.command not in CONFIG_COMMANDS:
        return None
    out_dir, out = getattr(args, "out_dir", None), getattr(args, "out", None)
    if out_dir is not None:
        path = Path(out_dir) / config_name(args.command)
    elif out is not None and getattr(args, "config", None):
        path = Path(out).with_name(f"{Path(out).stem}.{config_name(args.command)}")
    else:
        return None
    if not path.parent.is_dir():
        return None
    from ..utils import atomic_write

    text = _dump(resolved_config(args))
    with atomic_write(path, mode="w") as f:
        f.write(f"# skhisto {args.command}: the resolved options of this run\n{text}")
    return path


def _dump(config):
    """``config`` as YAML: one ``key: value`` line per option, lists inline (``rates: [0, 0.4]``)
    whatever the values (PyYAML's ``default_flow_style=None`` writes a mapping of scalars alone
    on one line, as ``{input: ..., out: ...}``)."""
    yaml = _require_yaml()

    class Dumper(yaml.SafeDumper):
        pass

    def inline_list(dumper, data):
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)

    Dumper.add_representer(list, inline_list)
    return yaml.dump(config, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=1000)
