"""Reading the images a user gives: files, folders, globs.

`read_image` reads any image Pillow reads as RGB uint8 and names the file
on any error; `list_images` expands a file, a folder or a glob;
`resize_image` resizes one; output files are named after the inputs
(`output_stems`).
"""
import glob
import os

from absl import logging
import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')


# Pillow's decompression-bomb limit (pixels), which `read_image` enforces
# unless the caller allows large images.
MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS


def read_image(path, allow_large=False, flag='--allow_large_images'):
  """RGB uint8 [H, W, 3] of an image file, naming the file on any error.

  Grayscale, palette, RGBA and CMYK images are converted to RGB (alpha
  dropped). 16-bit images are read at 8 bits with a warning that says how
  (their top byte: value / 257, or as they are when no value exceeds 255).
  A multi-page file (TIFF) gives its first page, with a warning.

  Args:
    path: The image file.
    allow_large: Read images above Pillow's decompression-bomb limit
      (`MAX_IMAGE_PIXELS`, about 89 megapixels); otherwise they are an error
      naming `flag`.
    flag: The flag that allows them, for the error.
  """
  if not os.path.exists(path):
    raise FileNotFoundError('Image %s does not exist.' % path)
  limit = Image.MAX_IMAGE_PIXELS
  try:
    # Pillow's own check warns or raises at open; ours below says what to do.
    Image.MAX_IMAGE_PIXELS = None
    with Image.open(path) as img:
      width, height = img.size
      if not allow_large and MAX_IMAGE_PIXELS and (
          width * height > MAX_IMAGE_PIXELS):
        raise LargeImageError(
            'Image %s is %dx%d (%.0f megapixels), above Pillow\'s '
            'decompression-bomb limit of %.0f megapixels. If you trust the '
            'file, pass %s (and --tile_size=513,513 to segment it in tiles '
            'with bounded memory).' % (path, height, width,
                                        width * height / 1e6,
                                        MAX_IMAGE_PIXELS / 1e6, flag))
      if getattr(img, 'n_frames', 1) > 1:
        logging.warning('%s has %d pages; reading the first.', path,
                        img.n_frames)
      img.load()
      bits = _bits_per_sample(img)
      if img.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
        arr = np.asarray(img, dtype=np.float64)
        scale = 257.0 if arr.max() > 255 else 1.0
        _warn_16_bit(path, scale)
        arr = np.clip(arr / scale + 0.5, 0, 255).astype(np.uint8)
        return np.stack([arr] * 3, axis=-1)
      if bits > 8:
        # Pillow reads 16-bit colour as its top byte (value / 256).
        _warn_16_bit(path, 256.0)
      if img.mode != 'RGB':
        img = img.convert('RGB')
      # One copy (np.array of an image would make two).
      return np.frombuffer(img.tobytes(), np.uint8).reshape(
          img.size[1], img.size[0], 3)
  except LargeImageError:
    raise
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
    raise ValueError('Cannot read image %s: %s' % (path, e)) from e
  finally:
    Image.MAX_IMAGE_PIXELS = limit


class LargeImageError(ValueError):
  """An image above the decompression-bomb limit, not allowed."""


def _bits_per_sample(img):
  tags = getattr(img, 'tag_v2', None)
  bits = tags.get(258) if tags is not None else None
  if bits is None:
    return 8
  return max(bits) if isinstance(bits, (tuple, list)) else int(bits)


def _warn_16_bit(path, scale):
  if scale == 1.0:
    logging.warning('%s is a 16-bit image whose values are all below 256: '
                    'read as 8-bit values unchanged.', path)
  else:
    logging.warning('%s is a 16-bit image: read at 8 bits as value / %d. '
                    'Models are trained on 8-bit RGB; if the values use '
                    'less than the 16-bit range (a 12-bit sensor, say), '
                    'rescale the image to 8 bits yourself.', path, scale)


def list_images(path, flag='--image_path'):
  """Image files of a file, a folder or a glob pattern (sorted)."""
  if os.path.isdir(path):
    files = [os.path.join(path, f) for f in sorted(os.listdir(path))
             if f.lower().endswith(IMAGE_EXTENSIONS)]
  elif any(c in path for c in '*?['):
    files = sorted(glob.glob(path))
  else:
    files = [path] if os.path.exists(path) else []
  if not files:
    raise FileNotFoundError('No images found at %s=%s.' % (flag, path))
  return files


def resize_image(image, size):
  """uint8 RGB `image` [H, W, 3] resized (bilinear) to `size` (height,
  width)."""
  return np.asarray(Image.fromarray(np.asarray(image, np.uint8)).resize(
      (int(size[1]), int(size[0])), Image.BILINEAR))


def output_stems(paths):
  """Output file stems named after the input files (`photo.jpg` ->
  `photo`); stems that two inputs share get their folder's name too."""
  stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
  seen = {}
  for stem in stems:
    seen[stem] = seen.get(stem, 0) + 1
  return [stem if seen[stem] == 1 else '%s_%s' % (
      os.path.basename(os.path.dirname(os.path.abspath(path))), stem)
          for stem, path in zip(stems, paths)]
