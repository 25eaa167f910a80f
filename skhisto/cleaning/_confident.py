"""Confident learning (Northcutt et al. 2021) on any per-sample class probabilities.

The confident joint counts, for each given label, how many samples are
confidently of each class; calibrated to the label counts it estimates the
joint distribution of given and true labels, from which come the noise rate,
the transition matrix, and how many samples of each given label to flag.
"""

import numpy as np


def confident_joint(proba, codes):
    """Calibrated confident joint, shape (k, k): rows given label, columns likely true class.

    A sample counts towards class ``j`` when its probability of ``j`` reaches
    the mean probability of ``j`` over the samples labeled ``j`` (the
    class's threshold); of several such classes, the most probable. Rows are
    then scaled to the label counts and the whole to ``n``.
    """
    n_classes = proba.shape[1]
    counts = np.bincount(codes, minlength=n_classes)
    thresholds = np.array([proba[codes == j, j].mean() for j in range(n_classes)])
    above = proba >= thresholds - 1e-12
    likely = np.argmax(np.where(above, proba, -np.inf), axis=1)
    confident = above.any(axis=1)
    joint = np.zeros((n_classes, n_classes))
    np.add.at(joint, (codes[confident], likely[confident]), 1)
    totals = joint.sum(axis=1)
    # A label with no confident sample gives no evidence of noise: keep its count on the diagonal.
    empty = totals == 0
    joint[empty, empty] = 1
    totals[empty] = 1
    joint = joint / totals[:, None] * counts[:, None]
    return joint / joint.sum() * len(codes)


def prune_by_noise_rate(proba, codes, joint):
    """Flag, for each off-diagonal cell (i, j) of ``joint``, that many samples labeled i.

    The flagged ones are those with the largest margin ``p(j) - p(i)``, and
    any tied with the last of them; each given label keeps at least one
    sample. Returns the mask and each
    sample's suggested class code (the most probable other class).
    """
    n_classes = proba.shape[1]
    flagged = np.zeros(len(codes), dtype=bool)
    for i in range(n_classes):
        members = np.flatnonzero(codes == i)
        for j in range(n_classes):
            n_flip = min(int(round(joint[i, j])), len(members) - 1) if i != j else 0
            if n_flip > 0:
                margin = proba[members, j] - proba[members, i]
                # Samples tied with the last one in are flagged too: none is left out by row order.
                cutoff = np.partition(margin, len(margin) - n_flip)[len(margin) - n_flip]
                flagged[members[margin >= cutoff]] = True
        if len(members) and flagged[members].all():  # flags for several j can cover the class
            flagged[members[np.argmax(proba[members, i])]] = False
    others = np.where(np.eye(n_classes, dtype=bool)[codes], -np.inf, proba)
    return flagged, np.argmax(others, axis=1)


def noise_from_joint(joint):
    """Noise rate and row-stochastic P(noisy = j | true = i) from a confident joint.

    The joint's rows are given labels and columns true classes, so the
    transition matrix is its transpose normalized by row. A true class no
    sample is confidently of keeps an identity row: nothing says it flips.
    """
    q = joint / joint.sum()
    noise_rate = float(1 - np.trace(q))
    transition = q.T.copy()
    totals = transition.sum(axis=1, keepdims=True)
    empty = totals[:, 0] == 0
    transition[empty] = np.eye(len(q))[empty]
    totals[empty] = 1
    return noise_rate, transition / totals
