"""Reading photos as a person sees them, and writing outputs that are never half-written.

Archives hold what scanners and cameras write: JPEGs whose EXIF says "rotate me", colour
profiles other than sRGB, CMYK JPEGs from print workflows, 16-bit greyscale TIFFs and PNGs,
palette GIFs. `read_photo` turns each into the uint8 sRGB pixels a photo viewer would show,
and refuses a photo above a pixel limit from its header alone, before decoding it: a small
file can hold a huge image, and decoding 16,000 x 16,000 pixels takes gigabytes.
"""

import io
import os
import warnings
import zlib

import numpy as np
from PIL import Image, ImageCms, ImageOps

# Larger photos are refused unless the limit is raised: 40 megapixels holds a 7,700 x 5,200
# scan, and one such photo in flight takes about 1 GB of working memory in the float colour
# maths (L, ab and RGB at full resolution).
DEFAULT_MAX_PIXELS = 40_000_000
# Pillow refuses images above twice its own limit in Image.open; the pixel limit above is
# checked instead, from the header, with an error that names it.
Image.MAX_IMAGE_PIXELS = None

_SRGB = ImageCms.createProfile("sRGB")
# What the commands read from a folder; scanned archives are often TIFF.
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class PhotoError(ValueError):
    """A photo that cannot be coloured: unreadable, or above the pixel limit."""


def read_photo(path, max_pixels=DEFAULT_MAX_PIXELS):
    """The photo at `path` as uint8 sRGB (H, W, 3), upright.

    - EXIF orientation is applied (the photo is turned the way viewers show it).
    - An embedded ICC profile is converted to sRGB; CMYK without a profile is converted
      with Pillow's formula.
    - 16-bit greyscale is scaled to 8 bits (v / 257, rounded); palette and grey images are
      expanded; alpha is dropped; an animation gives its first frame.

    Raises PhotoError (naming the file and what is wrong) for a file that is not an image,
    a truncated one, or one of more than `max_pixels` pixels (read from its header, before
    any pixel is decoded).
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise PhotoError(
                    f"{width}x{height} is {width * height:,} pixels, above the limit of "
                    f"{max_pixels:,} (--max_pixels)"
                )
            if width == 0 or height == 0:
                raise PhotoError(f"{width}x{height}: no pixels")
            with warnings.catch_warnings():
                # A damaged EXIF block is a warning in Pillow; the photo itself may be fine.
                warnings.simplefilter("ignore")
                image = ImageOps.exif_transpose(image)
            return _to_srgb(image)
    except PhotoError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        message = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise PhotoError(f"unreadable ({message})") from None


def _to_srgb(image):
    """uint8 RGB (H, W, 3) of a Pillow image of any mode."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image).astype(np.float64)
        # 16-bit samples (0-65535); mode "I" of a 16-bit file holds the same range.
        grey = np.clip(np.round(values / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if image.mode == "F":
        grey = np.clip(np.round(np.asarray(image, np.float64)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    profile = image.info.get("icc_profile")
    if profile and image.mode in ("RGB", "RGBA", "CMYK", "L", "LA"):
        base = {"RGBA": "RGB", "LA": "L"}.get(image.mode, image.mode)
        try:
            converted = ImageCms.profileToProfile(
                image.convert(base),
                ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                _SRGB,
                outputMode="RGB",
            )
            return np.asarray(converted, np.uint8)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # A broken profile: the pixels as they are, like most viewers.
    return np.asarray(image.convert("RGB"), np.uint8)


def write_png(path, rgb, compress_level=1):
    """Writes uint8 RGB (H, W, 3) as a PNG at `path`, atomically: to a temporary file in the
    same folder, then renamed, so a run killed at any moment leaves either the whole old
    file, the whole new one, or none.

    zlib level 1 with its run-length strategy: on a coloured photo about 3x faster than
    the default level 6, for a file about 7 % larger (the pixels are the same either way).
    """
    temporary = f"{path}.partial-{os.getpid()}"
    try:
        Image.fromarray(rgb).save(
            temporary, format="PNG", compress_level=compress_level, compress_type=zlib.Z_RLE
        )
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def remove_partial_files(folder):
    """Deletes the temporary files (`NAME.partial-PID`) a killed run left in `folder`;
    returns how many."""
    removed = 0
    if not os.path.isdir(folder):
        return 0
    for name in os.listdir(folder):
        if ".partial-" in name:
            os.remove(os.path.join(folder, name))
            removed += 1
    return removed
