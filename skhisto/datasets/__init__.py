"""Datasets: ImageFolder layouts and the public histology patch collections."""

from ._image_folder import load_image_folder

__all__ = ["load_image_folder"]
