"""Slide-level multiple-instance heads: ABMILHead and MeanPoolHead on bags of patch embeddings."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score

from skhisto import ABMILHead, MeanPoolHead, NoisyLabelClassifier, UniformNoise, make_bags
from skhisto.heads._mil import collate_bags

HEADS = [ABMILHead, MeanPoolHead]
FAST = {"max_epochs": 3, "random_state": 0, "device": "cpu"}


def witness_bags(n_bags, rng, *, d=8, shift=2.5, sizes=(20, 60), n_positive=(2, 5)):
    """Bags of N(0, 1) patches; a positive bag hides 2-5 patches shifted on 3 features.

    Returns the bags, their labels (alternating 0, 1) and each bag's mask of positive patches.
    """
    bags, y, witnesses = [], [], []
    for i in range(n_bags):
        n = int(rng.integers(*sizes, endpoint=True))
        bag = rng.normal(size=(n, d)).astype(np.float32)
        positive = np.zeros(n, dtype=bool)
        if i % 2:
            positive[
                rng.choice(n, int(rng.integers(*n_positive, endpoint=True)), replace=False)
            ] = 1
            bag[positive, :3] += shift
        bags.append(bag)
        y.append(i % 2)
        witnesses.append(positive)
    return bags, np.array(y), witnesses


@pytest.fixture(scope="module")
def witness_data():
    rng = np.random.default_rng(0)
    train = witness_bags(160, rng)
    test = witness_bags(80, rng)
    return train, test


@pytest.fixture(scope="module")
def fitted_abmil(witness_data):
    (bags, y, _), _ = witness_data
    return ABMILHead(max_epochs=30, lr=2e-3, dropout=0.0, device="cpu", random_state=0).fit(bags, y)


def test_abmil_finds_the_positive_instances(witness_data, fitted_abmil):
    _, (bags, y, witnesses) = witness_data
    assert fitted_abmil.score(bags, y) >= 0.9
    weights = fitted_abmil.attention(bags)
    assert [len(w) for w in weights] == [len(b) for b in bags]
    assert all(w.dtype == np.float64 and np.isclose(w.sum(), 1.0) for w in weights)
    aucs = [
        roc_auc_score(pos, w) for pos, w, label in zip(witnesses, weights, y, strict=True) if label
    ]
    assert np.mean(aucs) > 0.9


def test_mean_pooling_does_no_better_on_a_diluted_signal(witness_data, fitted_abmil):
    (bags, y, _), (test_bags, test_y, _) = witness_data
    mean = MeanPoolHead(max_epochs=30, lr=2e-3, dropout=0.0, device="cpu", random_state=0)
    mean.fit(bags, y)
    assert mean.score(test_bags, test_y) <= fitted_abmil.score(test_bags, test_y)


def test_attention_follows_patch_order(fitted_abmil, witness_data):
    _, (bags, _, _) = witness_data
    bag = bags[1]
    flipped = fitted_abmil.attention([bag[::-1]])[0]
    np.testing.assert_allclose(flipped, fitted_abmil.attention([bag])[0][::-1], atol=1e-6)


def test_padding_does_not_change_a_bag(fitted_abmil, witness_data):
    """A bag alone and batched with a longer one (so padded) gets the same output."""
    _, (bags, _, _) = witness_data
    short, long = bags[0][:5], bags[1]
    alone = fitted_abmil.predict_proba([short])
    padded = fitted_abmil.predict_proba([short, long])[:1]
    np.testing.assert_allclose(alone, padded, atol=1e-6)
    np.testing.assert_allclose(
        fitted_abmil.attention([short])[0], fitted_abmil.attention([short, long])[0], atol=1e-6
    )


def test_collate_pads_to_the_longest_bag_of_the_batch():
    X, codes = collate_bags([(np.ones((2, 3), np.float32), 1), (np.ones((4, 3), np.float32), 0)])
    assert X["X"].shape == (2, 4, 3) and X["mask"].tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert X["X"][0, 2:].abs().sum() == 0 and codes.tolist() == [1, 0]


@pytest.mark.parametrize("Head", HEADS)
def test_ragged_3d_and_2d_inputs(Head):
    rng = np.random.default_rng(1)
    ragged = [rng.normal(size=(n, 6)) for n in (1, 7, 3, 12, 5, 2)]
    y = np.array(["a", "b"] * 3)
    head = Head(**FAST).fit(ragged, y)
    assert head.n_features_in_ == 6 and head.predict(ragged).dtype == y.dtype
    assert head.predict_proba(tuple(ragged)).shape == (6, 2)
    as_objects = np.empty(len(ragged), dtype=object)
    as_objects[:] = ragged
    np.testing.assert_allclose(head.predict_proba(as_objects), head.predict_proba(ragged))

    cube = rng.normal(size=(6, 4, 6))
    proba = Head(**FAST).fit(cube, y).predict_proba(cube)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # a 3-D array is its list of bags
    np.testing.assert_allclose(
        Head(**FAST).fit(list(cube), y).predict_proba(list(cube)), proba, atol=1e-6
    )

    table = rng.normal(size=(6, 6))
    one_patch = Head(**FAST).fit(table, y)
    np.testing.assert_allclose(
        one_patch.predict_proba(table), one_patch.predict_proba(table[:, None, :]), atol=1e-6
    )


def test_attention_of_one_patch_bags_is_one():
    rng = np.random.default_rng(2)
    head = ABMILHead(**FAST).fit(rng.normal(size=(8, 4)), [0, 1] * 4)
    assert [w.tolist() for w in head.attention(rng.normal(size=(3, 4)))] == [[1.0]] * 3


def test_dataframe_feature_names_as_the_other_heads():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.normal(size=(10, 3)), columns=["f0", "f1", "f2"])
    head = MeanPoolHead(**FAST).fit(df, [0, 1] * 5)
    assert head.feature_names_in_.tolist() == ["f0", "f1", "f2"]
    with pytest.warns(UserWarning, match="feature names"):
        head.predict(df.to_numpy())
    # refit on bags forgets the names
    assert not hasattr(head.fit([df.to_numpy()] * 2, [0, 1]), "feature_names_in_")


@pytest.mark.parametrize(
    ("X", "match"),
    [
        ([np.ones((3, 4)), np.ones((0, 4))], r"bag 1 is empty \(shape \(0, 4\)\)"),
        (
            [np.ones((3, 4)), np.ones((2, 4)), np.ones((2, 5))],
            r"bag 0 has shape \(3, 4\) but bag 2 has shape \(2, 5\)",
        ),
        ([np.ones((3, 4)), np.array([[1.0, np.nan, 0, 0]])], "bag 1 .*NaN or infinity"),
        ([np.ones((3, 4)), np.array([[1.0, np.inf, 0, 0]])], "bag 1 .*NaN or infinity"),
        ([np.ones((3, 4)), np.ones(4)], r"bag 1 has shape \(4,\); every bag must be a 2-D"),
        ([np.ones((3, 4)), np.full((2, 4), "a")], "bag 1 is not a numeric 2-D array"),
        ([np.ones((3, 4)), np.ones((2, 4)) * 1j], "bag 1 is not a numeric 2-D array.*complex"),
        (np.ones(4), "Expected 2D array"),
        (np.ones((2, 0, 4)), "empty bags"),
    ],
)
def test_bad_bags_are_named(X, match):
    with pytest.raises(ValueError, match=match):
        ABMILHead(**FAST).fit(X, [0, 1] if len(X) != 3 else [0, 1, 0])


def test_float16_bags_are_cast_a_batch_at_a_time():
    rng = np.random.default_rng(9)
    bags = [rng.normal(size=(n, 4)).astype(np.float16) for n in (3, 5, 2, 6)]
    head = ABMILHead(**FAST).fit(bags, [0, 1, 0, 1])
    as_float32 = [bag.astype(np.float32) for bag in bags]
    np.testing.assert_allclose(head.predict_proba(bags), head.predict_proba(as_float32))


def test_predict_checks_the_width():
    head = MeanPoolHead(**FAST).fit([np.ones((2, 4)), np.zeros((3, 4))], [0, 1])
    with pytest.raises(ValueError, match="X has 5 features, but MeanPoolHead is expecting 4"):
        head.predict([np.ones((2, 5))])
    with pytest.raises(ValueError, match="bag 0 is empty"):
        head.predict([np.ones((0, 4))])


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ABMILHead(**FAST).fit([np.ones((2, 4))] * 3, [0, 1])


def test_validation_bags_for_early_stopping():
    rng = np.random.default_rng(4)
    bags, y, _ = witness_bags(40, rng, sizes=(5, 10))
    val, y_val, _ = witness_bags(10, rng, sizes=(5, 10))
    head = ABMILHead(max_epochs=4, early_stopping=True, device="cpu", random_state=0)
    head.fit(bags, y, X_val=val, y_val=y_val)
    assert "valid_loss" in head.net_.history[-1]
    with pytest.raises(ValueError, match="X_val has 3 features, but X has 8"):
        head.fit(bags, y, X_val=[np.ones((2, 3))] * 2, y_val=[0, 1])
    with pytest.raises(ValueError, match="X_val bag 1 is empty"):
        head.fit(bags, y, X_val=[np.ones((2, 8)), np.ones((0, 8))], y_val=[0, 1])
    # held out of the training bags: 10% of 40, stratified
    held = ABMILHead(max_epochs=2, early_stopping=True, device="cpu", random_state=0)
    assert "valid_loss" in held.fit(bags, y).net_.history[-1]


def test_grid_search_and_group_cross_validation():
    rng = np.random.default_rng(5)
    bags, y, _ = witness_bags(24, rng, sizes=(5, 8))
    patients = np.repeat(np.arange(12), 2)  # two slides per patient
    scores = cross_val_score(MeanPoolHead(**FAST), bags, y, groups=patients, cv=GroupKFold(3))
    assert scores.shape == (3,)
    search = GridSearchCV(ABMILHead(**FAST), {"attention_size": [4, 8]}, cv=GroupKFold(2))
    search.fit(bags, y, groups=patients)
    assert search.best_params_["attention_size"] in (4, 8)
    assert search.predict(bags[:2]).shape == (2,)


@pytest.mark.parametrize("Head", HEADS)
def test_clone_and_pickle_round_trip(Head):
    rng = np.random.default_rng(6)
    bags = [rng.normal(size=(n, 5)) for n in (3, 6, 4, 2)]
    head = Head(hidden_size=16, **FAST).fit(bags, ["x", "y", "x", "y"])
    assert clone(head).get_params() == head.get_params()
    restored = pickle.loads(pickle.dumps(head))
    np.testing.assert_array_equal(restored.predict_proba(bags), head.predict_proba(bags))


def test_noisy_label_classifier_with_bags():
    rng = np.random.default_rng(7)
    bags, y, _ = witness_bags(30, rng, sizes=(5, 9))
    clf = NoisyLabelClassifier(ABMILHead(**FAST), UniformNoise(0.2), random_state=0)
    assert clf.fit(bags, y).predict(bags).shape == (30,)
    assert clf.noise_.n_features_in_ == 8
    held = NoisyLabelClassifier(
        ABMILHead(early_stopping=True, **FAST),
        UniformNoise(0.2),
        random_state=0,
        validation_fraction=0.2,
    ).fit(bags, y)
    assert len(held.validation_indices_) == 6
    assert "valid_loss" in held.estimator_.net_.history[-1]


def test_make_bags_orders_by_first_appearance():
    X = np.arange(14.0).reshape(7, 2)
    bags, keys = make_bags(X, np.array(["b", "a", "b", "c", "a", "b", "c"]))
    assert keys.tolist() == ["b", "a", "c"]
    assert [bag[:, 0].tolist() for bag in bags] == [[0, 4, 10], [2, 8], [6, 12]]
    bags, keys = make_bags(X, [3, 3, 1, 1, 1, 2, 2])
    assert keys.tolist() == [3, 1, 2] and [len(b) for b in bags] == [2, 3, 2]
    import pandas as pd

    for missing in (np.nan, None, pd.NA, pd.NaT):  # one rule: every missing value is refused
        with pytest.raises(ValueError, match=r"groups\[1\] is missing"):
            make_bags(X[:2], np.array(["s1", missing], dtype=object))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make_bags(X, [1, 2])


def test_make_bags_feeds_a_head():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(40, 4))
    slides = np.repeat([f"s{i}" for i in range(8)], 5)
    bags, keys = make_bags(X, slides)
    labels = {key: i % 2 for i, key in enumerate(keys)}
    head = MeanPoolHead(**FAST).fit(bags, [labels[k] for k in keys])
    assert head.predict(bags).shape == (8,)


def test_make_bags_carries_each_bags_patient_for_grouped_cv():
    from sklearn.model_selection import GroupKFold, KFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    # 30 patients, 2 slides each of 4 patches; a patient's slides are near-copies and
    # share the patient's random label: slide-level CV lets one vouch for the other.
    n_patients = 30
    centers = np.repeat(rng.normal(size=(n_patients, 8)), 8, axis=0)
    X = centers + 0.01 * rng.normal(size=centers.shape)
    patients = np.repeat([f"p{i}" for i in range(n_patients)], 8)
    slides = np.repeat([f"s{i}" for i in range(2 * n_patients)], 4)
    labels = dict(zip(np.unique(patients), rng.integers(0, 2, n_patients), strict=True))
    bags, keys, bag_patients = make_bags(X, slides, patients=patients)
    assert (
        len(bags) == 2 * n_patients
        and bag_patients.tolist() == np.repeat([f"p{i}" for i in range(n_patients)], 2).tolist()
    )
    pooled = np.array([bag.mean(axis=0) for bag in bags])
    y = np.array([labels[p] for p in bag_patients])
    knn = KNeighborsClassifier(n_neighbors=1)
    by_slide = cross_val_score(knn, pooled, y, cv=KFold(5, shuffle=True, random_state=0))
    by_patient = cross_val_score(knn, pooled, y, cv=GroupKFold(5), groups=bag_patients)
    assert by_slide.mean() > 0.8 and abs(by_patient.mean() - 0.5) < 0.25
    assert len(make_bags(X, slides)) == 2  # without patients: (bags, keys), as before


def test_make_bags_refuses_a_bag_of_two_patients_naming_it():
    X = np.zeros((4, 2))
    with pytest.raises(
        ValueError,
        match=r"bag 's1' has rows of two patients: 'p1' \(row 0\) "
        r"and 'p2' \(row 2\)",
    ):
        make_bags(X, ["s1", "s2", "s1", "s2"], patients=["p1", "p3", "p2", "p3"])
    with pytest.raises(ValueError, match=r"patients\[3\] is missing"):
        make_bags(X, ["s1", "s2", "s1", "s2"], patients=["p1", "p3", "p1", None])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make_bags(X, ["s1", "s2", "s1", "s2"], patients=["p1"])
