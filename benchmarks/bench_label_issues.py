"""Label-issue detection and cleaning on frozen LC25000 embeddings, against cleanlab.

For each embedding (the SimCLR encoder trained by reproduce_noise_resilience.py,
and a random-init ResNet-18), noise model (uniform, asymmetric), rate and seed:
a stratified 70/30 split, the training labels flipped by the seeded noise
sampler, then

* detection of the flips (the sampler's ``noise_mask_``) by
  :func:`~skhisto.find_label_issues` with each method, by cleanlab's own
  ``cleanlab.filter.find_label_issues`` on the same out-of-fold probabilities
  our ``confident_learning`` uses (same estimator, same splitter), and by a plain
  20-nearest-neighbour majority vote (cosine distance): precision, recall, F1,
  AUROC of the label-quality scores, and wall time (cleanlab's includes the
  out-of-fold fit);
* the noise rate of :func:`~skhisto.estimate_noise` (and cleanlab's joint)
  against the realized one;
* the clean-test balanced accuracy of ``StandardScaler`` + ``MLPHead`` trained
  on the clean labels, through the noise (cross-entropy and GCE), and after
  :class:`~skhisto.LabelIssueFilter` with each method, removing the flagged
  labels or relabelling them.

No pretrained weights can be downloaded here and LC25000 is augmented from 250
originals per class: compare rows, not absolute values.

    python benchmarks/bench_label_issues.py          # 500 tiles/class, 3 seeds (docs/results)
    python benchmarks/bench_label_issues.py --quick  # smoke run
    python benchmarks/bench_label_issues.py --report-only  # page and plot from the last JSON
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import add_common_arguments, lc25000_root, result_stem, write_results
from _label_issue_data import embeddings
from _label_issue_report import markdown, plot, summarise
from sklearn.base import clone
from sklearn.metrics import (
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhisto import LabelIssueFilter, LinearHead, MLPHead, estimate_noise, find_label_issues
from skhisto.noise import get_noise_model
from skhisto.utils import progress

METHODS = ("knn", "confident_learning", "ensemble")
#: The noise models compared (skhisto.noise.get_noise_model names).
NOISES = ("uniform", "asymmetric")
MAJORITY_K = 20
NAME = "label_issues"


def detection_scores(flips, mask, scores, seconds):
    """Precision, recall, F1 of ``mask`` and AUROC of ``scores`` (low = suspect) vs the flips."""
    return {
        "precision": precision_score(flips, mask, zero_division=0.0),
        "recall": recall_score(flips, mask, zero_division=0.0),
        "f1": f1_score(flips, mask, zero_division=0.0),
        "auroc": roc_auc_score(flips, -np.asarray(scores)),
        "flagged": float(np.mean(mask)),
        "seconds": seconds,
    }


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def majority_vote(X, y, k=MAJORITY_K):
    """Flag a label its ``k`` cosine nearest neighbours (self excluded) do not mostly share.

    Flagged when another class has strictly more votes than the given label;
    the score is the share of neighbours agreeing with the label.
    """
    neighbours = NearestNeighbors(n_neighbors=k, metric="cosine").fit(X).kneighbors()[1]
    codes = np.unique(y, return_inverse=True)[1]
    votes = np.stack([np.bincount(row, minlength=codes.max() + 1) for row in codes[neighbours]])
    agree = votes[np.arange(len(y)), codes]
    return agree < votes.max(1), agree / k


def cleanlab_issues(estimator, X, y, cv, seed):
    """cleanlab on the out-of-fold probabilities our confident learning computes.

    Returns the mask, the self-confidence scores, cleanlab's noise rate
    (1 - trace of its joint) and the seconds of the fit plus cleanlab's call.
    """
    from cleanlab.count import estimate_joint
    from cleanlab.filter import find_label_issues as cleanlab_find
    from cleanlab.rank import get_label_quality_scores

    # find_label_issues seeds its folds with the first draw of random_state; same draw here.
    folds_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max)
    splitter = StratifiedKFold(cv, shuffle=True, random_state=folds_seed)
    oof, fit_s = timed(
        cross_val_predict, clone(estimator), X, y, cv=splitter, method="predict_proba"
    )
    mask, call_s = timed(cleanlab_find, y, oof)
    rate = 1.0 - float(np.trace(estimate_joint(y, oof)))
    return mask, get_label_quality_scores(y, oof), rate, fit_s + call_s


def oof_estimator(seed, args):
    """The classifier behind confident learning, ours and cleanlab's alike."""
    head = LinearHead(max_epochs=args.head_epochs, random_state=seed, device="cpu")
    return make_pipeline(StandardScaler(), head)


def clean_accuracy(X_train, y_fit, X_test, y_test, seed, args, loss="cross_entropy"):
    """Balanced accuracy on the clean test labels of StandardScaler + MLPHead."""
    head = MLPHead(loss=loss, max_epochs=args.head_epochs, random_state=seed, device="cpu")
    model = make_pipeline(StandardScaler(), head).fit(X_train, y_fit)
    return balanced_accuracy_score(y_test, model.predict(X_test))


def detections(X, y_noisy, flips, estimator, seed, args):
    """Detection figures of every method, and their noise-rate estimates."""
    common = dict(estimator=estimator, cv=args.cv, random_state=seed)
    found, rates, quality = {}, {}, {}
    for method in METHODS:
        (mask, quality[method]), seconds = timed(
            find_label_issues, X, y_noisy, method=method, return_scores=True, **common
        )
        found[method] = detection_scores(flips, mask, quality[method], seconds)
        rates[method] = float(estimate_noise(X, y_noisy, method=method, **common)[0])
    mask, scores, rates["cleanlab"], seconds = cleanlab_issues(estimator, X, y_noisy, args.cv, seed)
    found["cleanlab"] = detection_scores(flips, mask, scores, seconds)
    # Both score a label by its out-of-fold probability: 0 when the probabilities are the same.
    oof_difference = float(np.max(np.abs(scores - quality["confident_learning"])))
    (mask, scores), seconds = timed(majority_vote, X, y_noisy)
    found[f"{MAJORITY_K}-NN majority"] = detection_scores(flips, mask, scores, seconds)
    return found, rates, oof_difference


def accuracies(X_train, y_train, y_noisy, X_test, y_test, estimator, seed, args):
    """Clean-test balanced accuracy of each way of training on the noisy labels."""
    fit = dict(X_test=X_test, y_test=y_test, seed=seed, args=args)
    scores = {
        "clean labels": clean_accuracy(X_train, y_train, **fit),
        "through the noise": clean_accuracy(X_train, y_noisy, **fit),
        "GCE": clean_accuracy(X_train, y_noisy, loss="gce", **fit),
    }
    kept = {}
    for method in METHODS:
        for action, label in (("remove", "filter"), ("relabel", "relabel")):
            sampler = LabelIssueFilter(
                method=method, action=action, estimator=estimator, cv=args.cv, random_state=seed
            )
            X_kept, y_kept = sampler.fit_resample(X_train, y_noisy)
            scores[f"{method} {label}"] = clean_accuracy(X_kept, y_kept, **fit)
            kept[f"{method} {label}"] = len(y_kept)
    return scores, kept


def split(X, y, seed):
    """The stratified 70/30 train/test split of ``seed``."""
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)


def clean_estimates(X, y, seed, args):
    """Noise rates estimated on the clean training labels: what the embeddings alone confuse."""
    X_train, _, y_train, _ = split(X, y, seed)
    estimator = oof_estimator(seed, args)
    common = dict(estimator=estimator, cv=args.cv, random_state=seed)
    rates = {m: float(estimate_noise(X_train, y_train, method=m, **common)[0]) for m in METHODS}
    rates["cleanlab"] = cleanlab_issues(estimator, X_train, y_train, args.cv, seed)[2]
    return rates


def run(X, y, noise, rate, seed, args):
    """Every figure of one (embedding, noise, rate, seed)."""
    X_train, X_test, y_train, y_test = split(X, y, seed)
    sampler = get_noise_model(noise)(rate, random_state=seed)
    y_noisy = sampler.fit_resample(X_train, y_train)[1]
    flips = sampler.noise_mask_
    estimator = oof_estimator(seed, args)
    found, rates, oof_difference = detections(X_train, y_noisy, flips, estimator, seed, args)
    accuracy, kept = accuracies(X_train, y_train, y_noisy, X_test, y_test, estimator, seed, args)
    return {
        "true_rate": float(flips.mean()),
        "n_train": len(y_noisy),
        "kept": kept,
        "detection": found,
        "estimated_rate": rates,
        "oof_max_difference": oof_difference,
        "balanced_accuracy": accuracy,
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=500, help="tiles per class (%(default)s)")
    parser.add_argument("--image-size", type=int, default=64, help="random-init backbone's px")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.2, 0.4, 0.6])
    parser.add_argument("--noises", nargs="+", choices=list(NOISES), default=list(NOISES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cv", type=int, default=5, help="folds of the out-of-fold fits")
    parser.add_argument("--head-epochs", type=int, default=100, help="LinearHead and MLPHead")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "skhisto-bench"))
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the table and plot from the last run's JSON in --out, measuring nothing",
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.per_class, args.seeds, args.cv, args.head_epochs = 30, 1, 3, 3
        args.rates = [0.2, 0.4]
    return args


def measure(args):
    """Every run of the benchmark and what it ran on: the payload less its summary."""
    start = time.perf_counter()
    X, y, embed_s = embeddings(
        lc25000_root(args.data),
        "quick" if args.quick else "cpu",
        args.per_class,
        args.image_size,
        args.cache,
    )
    jobs = [
        (name, noise, rate, seed)
        for name in X
        for noise in args.noises
        for rate in args.rates
        for seed in range(args.seeds)
    ]
    runs = [
        {"embedding": name, "noise": noise, "rate": rate, "seed": seed}
        | run(X[name], y, noise, rate, seed, args)
        for name, noise, rate, seed in progress(jobs, total=len(jobs), desc="runs", verbose=True)
    ]
    clean = {name: [clean_estimates(X[name], y, s, args) for s in range(args.seeds)] for name in X}
    return {
        "config": vars(args),
        "n_images": len(y),
        "clean_label_estimate": clean,
        "embed_seconds": embed_s,
        "wall_seconds": time.perf_counter() - start,
        "command": "python benchmarks/bench_label_issues.py" + (" --quick" if args.quick else ""),
        "runs": runs,
    }


def saved(args):
    """The payload of the last run written to ``--out`` (for ``--report-only``)."""
    path = Path(args.out) / f"{result_stem(NAME, args.quick)}.json"
    if not path.is_file():
        raise SystemExit(f"--report-only needs a finished run's results: {path} not found")
    return json.loads(path.read_text())


def main(argv=None):
    args = parse_args(argv)
    payload = saved(args) if args.report_only else measure(args)
    summary = summarise(payload["runs"])
    payload = payload | {"summary": summary}
    write_results(
        NAME,
        payload,
        markdown(summary, payload, image=f"{result_stem(NAME, args.quick)}.png"),
        out=args.out,
        quick=args.quick,
        docs=True,
        plot=lambda path: plot(summary, path),
    )
    return payload


if __name__ == "__main__":
    main()
