"""GridSearchCV with n_jobs=1 and n_jobs=2 over a cached pipeline on an empty cache.

Before the cache's leases, two workers embedded the same images: with 300 images the
cache ended with 500 rows and ``n_jobs=2`` took twice as long as ``n_jobs=1`` (35 s
against 18 s). Each run here starts from an empty cache; the cache's rows count
every image embedded by any worker (a duplicate embedding is a duplicate row).
``n_jobs=2`` runs twice, each on a new empty cache: first with new joblib workers
(their start-up, importing torch, is timed), then with the workers joblib keeps up.
"""

import tempfile
import time


def _search(paths, y, cache, n_jobs, label):
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    from skhisto import FoundationEmbedder, LinearHead
    from skhisto.embedding import EmbeddingCache, forward_count

    embedder = FoundationEmbedder("resnet18", pretrained=False, random_state=0, cache=cache)
    pipe = Pipeline([("embed", embedder), ("clf", LinearHead(max_epochs=20, random_state=0))])
    grid = {"clf__lr": [1e-3, 1e-2]}
    before, start = forward_count(), time.perf_counter()
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs).fit(paths, y)
    seconds = time.perf_counter() - start
    stats = EmbeddingCache(cache, embedder.fit(paths[:1]).fingerprint_).stats()
    return {
        f"{label} seconds": seconds,
        f"{label} forward passes in the main process": forward_count() - before,
        f"{label} cache rows": stats["rows"],
        f"{label} cache entries": stats["entries"],
        f"{label} best score": float(search.best_score_),
    }


def measure(n_images, data_root, quick):
    """Seconds and cache rows of both searches, each on an empty cache."""
    from skhisto.datasets import load_image_folder

    data = load_image_folder(data_root, max_per_class=n_images // 3, random_state=0)
    figures = {"images": len(data.paths)}
    runs = [(1, "n_jobs=1"), (2, "n_jobs=2, new workers"), (2, "n_jobs=2, workers up")]
    for n_jobs, label in runs:
        with tempfile.TemporaryDirectory(prefix="skhisto-bench-grid-") as cache:
            figures.update(_search(data.paths, data.target, cache, n_jobs, label))
        print(f"  {label}: {figures[label + ' seconds']:.1f} s", flush=True)
    for _, label in runs[1:]:
        figures[f"speed-up, {label}"] = figures["n_jobs=1 seconds"] / figures[f"{label} seconds"]
    return figures
