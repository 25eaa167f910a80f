"""``--seeds S1 S2 ...``: an experiment run once per seed, reported as the mean and std.

A command runs itself once per seed, as with ``--random-state SEED`` (:func:`run_seeds`), and
hands every run's rows to :func:`show_seed_results`: its CSV holds every seed's rows with a
``seed`` column first, ``<name>_seeds.csv`` the mean and std across seeds of each setting's
score (:func:`skhisto.model_selection.summarize_seeds`), and the table printed is that summary.
"""

from pathlib import Path

from ._errors import CommandError
from ._options import seed as seed_type
from ._outputs import announce, show_results, write_csv


def seeds_csv_name(csv_name):
    """The summary beside a command's CSV: ``active.csv`` -> ``active_seeds.csv``."""
    return csv_name.removesuffix(".csv") + "_seeds.csv"


def add_seeds_argument(parser, csv_name, what="each setting"):
    """``--seeds SEED [SEED ...]`` of a command that writes ``csv_name``."""
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=seed_type,
        metavar="SEED",
        help="repeat the run once per seed (each as --random-state SEED) and report the mean "
        f"and std across seeds of {what} ({seeds_csv_name(csv_name)}; the plot's band); "
        f"{csv_name} then has every seed's rows, with a 'seed' column",
    )


def check_seeds_option(seeds):
    """``--seeds`` as a list (None without it); a seed given twice is refused."""
    if seeds is None:
        return None
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise CommandError(
            f"--seeds: {' '.join(map(str, repeated))} repeated; each seed is one run, give it once"
        )
    return list(seeds)


def run_seeds(command, args, one_run):
    """``(seeds, [one_run(seed), ...])``: one run per ``--seeds`` seed, each announced, or
    one run seeded by ``--random-state`` (``seeds`` is then None)."""
    seeds = check_seeds_option(args.seeds)
    runs = []
    for seed in seeds or [args.random_state]:
        if seeds:
            announce(command, f"seed {seed}")
        runs.append(one_run(seed))
    return seeds, runs


def seed_folder(folder, seed, seeds):
    """A run's own subfolder ``seed_<seed>`` of ``folder`` with --seeds (its checkpoints would
    mismatch another seed's), else ``folder``."""
    return Path(folder) / f"seed_{seed}" if seeds and folder is not None else folder


def summary_rows(rows, *, by, score, names=None):
    """:func:`~skhisto.model_selection.summarize_seeds` of ``rows`` (dicts with a ``seed``):
    one row per setting ``by`` (None is a setting too) with the mean and std across seeds of
    each seed's mean ``score``, named ``names`` (default ``<score>_mean``, ``<score>_std``),
    and ``n_seeds``."""
    import pandas as pd

    from ..model_selection import summarize_seeds

    table = pd.DataFrame(rows)
    blank = {column: "" for column in by if table[column].isna().any()}
    summary = summarize_seeds(table.fillna(blank), by=by, score=score)
    mean, std = names or (f"{score}_mean", f"{score}_std")
    summary = summary.rename(columns={f"{score}_mean": mean, f"{score}_std": std})
    records = summary.to_dict("records")
    for row in records:  # back to None, as the per-seed rows say it
        row.update({column: None for column in blank if row[column] == ""})
    return records


def plus_minus(mean, std):
    """A table cell ``0.812 ± 0.031`` ("-" when there is no score)."""
    if mean is None or mean != mean:  # NaN: no seed scored it
        return None
    return f"{mean:.3f} ± {std:.3f}"


def show_seed_results(
    command,
    args,
    seeds,
    runs_rows,
    *,
    by,
    score,
    csv_columns,
    csv_path,
    names=None,
    table=None,
    **shown,
):
    """Report the runs of ``seeds`` (``runs_rows``: each run's rows, in seed order).

    Writes every seed's rows to ``csv_path`` (``csv_columns`` after a ``seed`` column) and
    the summary (:func:`summary_rows` of ``by``, ``score`` and ``names``) to
    ``<name>_seeds.csv`` beside it; prints the summary (``table(summary)`` when given, for
    a layout of its own) or, with --json, every row and the summary. ``shown``: the other
    arguments of :func:`~skhisto.cli._outputs.show_results` (title, columns, plot, ...).
    Returns the summary rows.
    """
    rows = [
        {"seed": seed, **row} for seed, part in zip(seeds, runs_rows, strict=True) for row in part
    ]
    summary = summary_rows(rows, by=by, score=score, names=names)
    show_results(
        command,
        json_output=args.json,
        rows=rows,
        table_rows=summary if table is None else table(summary),
        summary={"seeds": seeds, "summary": summary},
        csv_columns=["seed", *csv_columns],
        csv_path=csv_path,
        **shown,
    )
    mean, std = names or (f"{score}_mean", f"{score}_std")
    path = write_csv(
        csv_path.with_name(seeds_csv_name(csv_path.name)), summary, [*by, mean, std, "n_seeds"]
    )
    announce(command, f"wrote {path}")
    return summary


def seeds_words(seeds):
    """``seeds 0 1 2``, as titles name them."""
    return "seeds " + " ".join(map(str, seeds))
