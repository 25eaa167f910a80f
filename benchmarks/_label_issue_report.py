"""Summary, markdown page and plot of bench_label_issues.py's runs."""

import numpy as np
from _common import markdown_table

DETECTORS = ("knn", "confident_learning", "ensemble", "cleanlab", "20-NN majority")
TRAININGS = (
    "clean labels",
    "through the noise",
    "GCE",
    "knn filter",
    "confident_learning filter",
    "ensemble filter",
    "knn relabel",
    "confident_learning relabel",
    "ensemble relabel",
)
ACCEPTANCE_RATES = (0.2, 0.4)
RATE_TOLERANCE = 0.05


def _records(run):
    """(what, method, value) of one run, flat."""
    for method, figures in run["detection"].items():
        for what, value in figures.items():
            yield what, method, value
    for method, value in run["estimated_rate"].items():
        yield "estimated_rate", method, value
        yield "rate_error", method, abs(value - run["true_rate"])
    yield "true_rate", "-", run["true_rate"]
    for training, value in run["balanced_accuracy"].items():
        yield "balanced_accuracy", training, value


def summarise(runs):
    """Mean and std over seeds: one record per (embedding, noise, rate, what, method)."""
    groups = {}
    for run in runs:
        for what, method, value in _records(run):
            key = (run["embedding"], run["noise"], run["rate"], what, method)
            groups.setdefault(key, []).append(float(value))
    fields = ("embedding", "noise", "rate", "what", "method")
    return [
        dict(zip(fields, key, strict=True), mean=float(np.mean(v)), std=float(np.std(v)), n=len(v))
        for key, v in groups.items()
    ]


class Lookup:
    """``lookup(embedding, noise, rate, what, method)`` -> mean (NaN when not run)."""

    def __init__(self, summary):
        self.cells = {
            tuple(s[f] for f in ("embedding", "noise", "rate", "what", "method")): s
            for s in summary
        }
        self.embeddings = list(dict.fromkeys(s["embedding"] for s in summary))
        self.noises = list(dict.fromkeys(s["noise"] for s in summary))
        self.rates = sorted({s["rate"] for s in summary})

    def __call__(self, embedding, noise, rate, what, method):
        cell = self.cells.get((embedding, noise, rate, what, method))
        return cell["mean"] if cell else float("nan")


def _grid(get, noise, what, methods, fmt):
    """Rows embedding x method, columns rates."""
    rows = [
        [embedding, method] + [fmt(get, embedding, noise, rate, what, method) for rate in get.rates]
        for embedding in get.embeddings
        for method in methods
    ]
    return markdown_table(["embedding", "method", *(f"{r:.0%}" for r in get.rates)], rows)


def _f1_cell(get, embedding, noise, rate, what, method):
    f1, p, r = (get(embedding, noise, rate, m, method) for m in ("f1", "precision", "recall"))
    return f"**{f1:.3f}** ({p:.2f} / {r:.2f})"


def _value(get, embedding, noise, rate, what, method):
    return f"{get(embedding, noise, rate, what, method):.3f}"


def _rate_cell(get, embedding, noise, rate, what, method):
    est, err = (get(embedding, noise, rate, w, method) for w in ("estimated_rate", "rate_error"))
    return f"{est:.3f} (±{err:.3f})"


def _knn_vs_cleanlab(get, embedding, rate):
    knn, cl = (get(embedding, "uniform", rate, "f1", m) for m in ("knn", "cleanlab"))
    maj = get(embedding, "uniform", rate, "f1", "20-NN majority")
    t_knn, t_cl = (get(embedding, "uniform", rate, "seconds", m) for m in ("knn", "cleanlab"))
    verdict = "at least cleanlab's" if knn >= cl else f"**below cleanlab's by {cl - knn:.3f}**"
    vs_maj = "above" if knn > maj else "**not above**"
    return (
        f"{rate:.0%} uniform: kNN F1 {knn:.3f} vs cleanlab {cl:.3f} ({verdict}), in "
        f"{t_knn:.2f} s vs {t_cl:.2f} s ({t_knn / t_cl:.1%} of its time); "
        f"{vs_maj} the 20-NN majority vote ({maj:.3f}, {knn - maj:+.3f})"
    )


ESTIMATORS = ("knn", "confident_learning", "ensemble", "cleanlab")


def _rate_errors(get, embedding, rate):
    parts = []
    for method in ESTIMATORS:
        err = get(embedding, "uniform", rate, "rate_error", method)
        ok = "within" if err <= RATE_TOLERANCE else "**outside**"
        parts.append(f"{method} {err:.3f} ({ok} {RATE_TOLERANCE})")
    true = get(embedding, "uniform", rate, "true_rate", "-")
    return f"{rate:.0%} uniform (realized {true:.3f}): " + ", ".join(parts)


def _clean_floor(meta, embedding):
    """Mean over seeds of each method's estimate on the clean labels, as text."""
    per_seed = meta.get("clean_label_estimate", {}).get(embedding)
    if not per_seed:
        return None
    return ", ".join(f"{m} {np.mean([s[m] for s in per_seed]):.3f}" for m in ESTIMATORS)


def _recovered(get, embedding, noise, rate):
    noisy, clean = (
        get(embedding, noise, rate, "balanced_accuracy", t)
        for t in ("through the noise", "clean labels")
    )
    gains = [
        f"{m} {get(embedding, noise, rate, 'balanced_accuracy', f'{m} filter') - noisy:+.3f}"
        for m in ("knn", "confident_learning", "ensemble")
    ]
    gce = get(embedding, noise, rate, "balanced_accuracy", "GCE") - noisy
    return f"{rate:.0%}: {', '.join(gains)}; GCE {gce:+.3f} (of a {clean - noisy:+.3f} gap)"


def acceptance(get, meta):
    """The issue's acceptance lines, answered from the measured means."""
    lines = ["## Acceptance, mean of seeds", ""]
    for embedding in get.embeddings:
        lines += [f"**{embedding}**", ""]
        lines += [f"- {_knn_vs_cleanlab(get, embedding, r)}." for r in ACCEPTANCE_RATES]
        lines += [
            f"- Noise rate, mean absolute error per seed: {_rate_errors(get, embedding, r)}."
            for r in ACCEPTANCE_RATES
        ]
        floor = _clean_floor(meta, embedding)
        if floor:
            lines.append(
                "- The same estimate on the clean training labels (no injected noise): "
                f"{floor}. `estimate_noise` counts the tiles these embeddings place among "
                "another class as mislabeled, so this floor adds to every estimate."
            )
        for noise in get.noises:
            lines.append(
                f"- Balanced accuracy recovered over training through {noise} noise: "
                + "; ".join(_recovered(get, embedding, noise, r) for r in get.rates)
                + "."
            )
        lines.append("")
    return lines


def _times(get):
    rows = []
    for embedding in get.embeddings:
        for method in DETECTORS:
            values = [
                get(embedding, noise, rate, "seconds", method)
                for noise in get.noises
                for rate in get.rates
            ]
            rows.append([embedding, method, f"{np.nanmean(values):.2f}"])
    return markdown_table(["embedding", "method", "seconds per run (mean)"], rows)


def markdown(summary, meta, image):
    """The results page; ``image`` is the plot's file name, next to the page."""
    get = Lookup(summary)
    cfg = meta["config"]
    n_train = int(round(meta["n_images"] * 0.7))
    lines = [
        "# Label-issue detection and cleaning on LC25000 embeddings",
        "",
        f"{meta['n_images']} LC25000 tiles ({cfg['per_class']}/class, outside the SimCLR "
        f"reproduction's images), stratified 70/30 split per seed ({n_train} noisy-labelled "
        f"training tiles, clean test tiles), seeds 0 to {cfg['seeds'] - 1}, noise rates "
        f"{', '.join(f'{r:.0%}' for r in cfg['rates'])}. Embeddings: "
        + "; ".join(f"{k} ({v:.0f} s to embed)" for k, v in meta["embed_seconds"].items())
        + ". Confident learning (ours and cleanlab's, on the same out-of-fold probabilities) "
        f"uses StandardScaler + LinearHead ({cfg['head_epochs']} max epochs) in a shuffled "
        f"{cfg['cv']}-fold StratifiedKFold seeded like the run; kNN uses the default "
        f'`n_neighbors="auto"` (sqrt(n) clipped to [5, 50]: {round(np.sqrt(n_train))} here); '
        "the 20-NN majority vote uses cosine distance and flags a "
        "label when another class has strictly more votes. Balanced accuracy: StandardScaler "
        "+ MLPHead on the clean test labels. No pretrained weights can be downloaded here and "
        "LC25000 is augmented from 250 originals per class: compare rows, not absolute values.",
        "",
        f"![Detection F1 and clean-test balanced accuracy against the noise rate]({image})",
        "",
        *acceptance(get, meta),
    ]
    for noise in get.noises:
        lines += [
            f"## {noise.capitalize()} noise",
            "",
            "Detection of the flipped labels: **F1** (precision / recall).",
            "",
            _grid(get, noise, "f1", DETECTORS, _f1_cell),
            "",
            "AUROC of the label-quality scores against the flips.",
            "",
            _grid(get, noise, "auroc", DETECTORS, _value),
            "",
            "Estimated noise rate (mean absolute error per seed against the realized rate).",
            "",
            _grid(get, noise, "estimated_rate", DETECTORS[:4], _rate_cell),
            "",
            "Clean-test balanced accuracy of MLPHead by training labels.",
            "",
            _grid(get, noise, "balanced_accuracy", TRAININGS, _value),
            "",
        ]
    lines += [
        "## Wall time of detection",
        "",
        "cleanlab's includes the out-of-fold fit it needs; mean over all runs.",
        "",
        _times(get),
        "",
        f"Produced by `{meta['command']}` in {meta['wall_seconds'] / 60:.1f} min on a shared "
        "2-core CPU machine (other jobs running: times are inflated, ratios hold better).",
    ]
    return "\n".join(lines)


def plot(summary, path):
    """F1 (top) and clean-test balanced accuracy (bottom) against the noise rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    get = Lookup(summary)
    panels = [(e, n) for e in get.embeddings for n in get.noises]
    fig, axes = plt.subplots(2, len(panels), figsize=(4 * len(panels), 7), squeeze=False)
    for col, (embedding, noise) in enumerate(panels):
        for method in DETECTORS:
            f1 = [get(embedding, noise, r, "f1", method) for r in get.rates]
            axes[0, col].plot(get.rates, f1, marker="o", label=method)
        noisy = np.array(
            [get(embedding, noise, r, "balanced_accuracy", "through the noise") for r in get.rates]
        )
        for training in TRAININGS[2:]:
            acc = [get(embedding, noise, r, "balanced_accuracy", training) for r in get.rates]
            axes[1, col].plot(get.rates, acc - noisy, marker="o", label=training)
        clean = [get(embedding, noise, r, "balanced_accuracy", "clean labels") for r in get.rates]
        axes[1, col].plot(get.rates, clean - noisy, "k--", label="clean labels (all there is)")
        axes[0, col].set(ylabel="detection F1")
        axes[1, col].set(ylabel="balanced accuracy gained over\ntraining through the noise")
        for ax in axes[:, col]:
            ax.set(xlabel="noise rate")
            ax.set_title(f"{embedding}\n{noise} noise", fontsize=8)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
