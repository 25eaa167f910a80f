"""
A QuPath round trip: annotations in, patch labels out, and back
=================================================================

Pathologists outline regions in QuPath; models work on patches. The two meet in QuPath's
GeoJSON: :func:`~skhisto.slides.read_qupath_geojson` reads the annotations a pathologist
exported, :func:`~skhisto.slides.label_patches` gives every patch the class of the annotation
that covers enough of it, and :func:`~skhisto.slides.write_qupath_geojson` writes patches back
(with a classification and measurements) for QuPath to draw over the slide.

The slide is made here (:func:`~skhisto.datasets.make_slide`): benign LC25000 lung tiles with a
block of squamous cell carcinoma, and the "annotation" is a polygon drawn around that block, as
a pathologist would in QuPath.
"""

import json
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import shapely
from matplotlib.patches import Polygon as PolygonPatch
from matplotlib.patches import Rectangle

from skhisto import SlideTiler
from skhisto.datasets import make_slide
from skhisto.slides import label_patches, read_qupath_geojson, write_qupath_geojson

data_dir = Path(os.environ.get("SKHISTO_DATA", "../shared/data")) / "lc25000_lung"
benign = sorted(str(p) for p in (data_dir / "lung_n").iterdir())[:4]
tumor = sorted(str(p) for p in (data_dir / "lung_scc").iterdir())[:4]
layout = np.arange(36).reshape(6, 6) % 4
layout[1:4, 2:5] = 4 + np.arange(9).reshape(3, 3) % 4  # a 3 x 3 block of carcinoma
folder = Path(tempfile.mkdtemp())
slide = make_slide(folder / "case-01.tif", benign + tumor, layout, mpp=0.25, n_levels=2)
table = SlideTiler(patch_size=224, mpp=0.25, min_tissue=0.25).tile(slide)
print(f"{len(table)} patches of 224 px at level 0")

# %%
# The pathologist's annotation
# ----------------------------
# A polygon in level-0 pixels around the carcinoma, classified "Tumor", as QuPath's
# **File > Export objects as GeoJSON** writes it (a FeatureCollection of Features).
cell = 256  # make_slide's cells are 256 px at level 0
outline = [(2 * cell + 10, cell + 12), (5 * cell - 8, cell + 4), (5 * cell - 4, 4 * cell - 10)]
outline += [(2 * cell + 6, 4 * cell - 4)]
feature = {
    "type": "Feature",
    "geometry": {"type": "Polygon", "coordinates": [[*outline, outline[0]]]},
    "properties": {"objectType": "annotation", "classification": {"name": "Tumor"}},
}
annotations_file = folder / "case-01.geojson"
annotations_file.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))

# %%
# Patches labeled by the annotation
# ---------------------------------
# A patch is "Tumor" when the annotation covers at least half of it; the rest stay
# unlabeled (None) here, and would be "Benign" with a second annotation.
annotations = read_qupath_geojson(annotations_file)
labels = label_patches(table, annotations, min_overlap=0.5)
centers = zip(table["x"] + table["size"] // 2, table["y"] + table["size"] // 2, strict=True)
truth = np.array([layout[y // cell, x // cell] >= 4 for x, y in centers])
print(
    f"{(labels == 'Tumor').sum()} patches labeled Tumor; of them, centred on carcinoma: "
    f"{truth[labels == 'Tumor'].mean():.0%}"
)

fig, ax = plt.subplots(figsize=(5, 5))
ax.set_xlim(0, 6 * cell)
ax.set_ylim(6 * cell, 0)
for x, y, size, label in zip(table["x"], table["y"], table["size"], labels, strict=True):
    color = "tab:red" if label == "Tumor" else "tab:gray"
    ax.add_patch(Rectangle((x, y), size, size, fill=label == "Tumor", alpha=0.4, color=color))
ax.add_patch(PolygonPatch(outline, closed=True, fill=False, color="black", lw=2))
ax.set_title("Patches labeled by the annotation (red) and its outline")
ax.set_aspect("equal")

# %%
# Back to QuPath
# --------------
# Patches go back as detections, classified by label and carrying measurements (here the
# share of each patch the annotation covers; a model's probabilities or attention weights go
# the same way), for QuPath's **File > Import objects** and measurement maps.
cover = np.array(
    [
        shapely.box(x, y, x + s, y + s).intersection(annotations["geometry"][0]).area / s**2
        for x, y, s in zip(table["x"], table["y"], table["size"], strict=True)
    ]
)
out = write_qupath_geojson(
    table,
    folder / "case-01.patches.geojson",
    classification=np.where(labels == "Tumor", "Tumor", "Benign"),
    measurements={"tumor_cover": cover},
)
back = read_qupath_geojson(out)
print(back["classification"].value_counts().to_dict())
plt.show()
