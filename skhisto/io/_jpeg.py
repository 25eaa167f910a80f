"""JPEG decoding that reports corrupt data instead of inventing pixels.

libjpeg recovers from damaged scan data (a truncated file, a bad Huffman
code, a missing restart marker) by filling the rest of the image with gray
or repeated blocks, and only *warns*; Pillow drops the warning, so a damaged
tile decodes to garbage and is embedded as if it were tissue. simplejpeg
(libjpeg-turbo, the same decoder Pillow bundles, same pixels) raises on those
warnings in strict mode, and is about three times faster.

What no decoder can tell: a flipped bit inside the entropy-coded data that
still decodes (JPEG has no checksum) changes a block's colors silently.
"""

import numpy as np

from ._errors import ImageReadError

#: libjpeg warnings that lose no pixel: bytes skipped between segments, metadata quirks.
_HARMLESS = ("extraneous bytes before marker", "unknown jfif revision", "unknown adobe")


def decode_jpeg(data, path):
    """RGB pixels of the JPEG ``data`` (an RGB or grayscale JPEG), or None to let Pillow try.

    Raises :class:`ImageReadError` naming ``path`` when libjpeg reports data
    it had to invent pixels for.
    """
    import simplejpeg

    try:
        return simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
    except ValueError as strict:
        try:
            pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=False)
        except ValueError:
            return None  # a fatal error, not a warning: Pillow decodes or names it
        if any(harmless in str(strict).lower() for harmless in _HARMLESS):
            return np.ascontiguousarray(pixels)
        raise ImageReadError(
            f"Corrupt JPEG data in {path!r}: {strict}. The decoder would invent the pixels "
            "after the damage (gray or repeated blocks); re-export the tile from its source or "
            "leave it out."
        ) from None
