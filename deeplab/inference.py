"""Image in, labels out: what predict, vis and export share.

The original's evaluation path for one image: resize to range when asked,
pad bottom/right with the variant's mean pixel to the crop (or to the image
when it is larger: the original never crops at evaluation), run the
inference graph (scales, flips), crop the valid region and resize back to
the input size (nearest for labels, bilinear for probabilities, align
corners). `segment` is that path in TensorFlow ops, so the SavedModel's
serving function and in-process visualisation run the same graph;
`predict_image` is the numpy path of the single-image tool, which also
returns the logits.
"""
import glob
import os

from absl import logging
import numpy as np
from PIL import Image
import tensorflow as tf

from deeplab import runtime
from deeplab import tiling
from deeplab.core import feature_extractor
from deeplab.core import layers
from deeplab.data import input_preprocess

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
            'with bounded memory).' % (path, width, height,
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


def pad_to_crop(image, crop_size, model_variant):
  """Pads bottom/right to the crop with the variant's mean pixel (float32)."""
  h, w = image.shape[:2]
  if h > crop_size[0] or w > crop_size[1]:
    raise ValueError('Image of size %dx%d is larger than --eval_crop_size=%d,%d;'
                     ' the original evaluation pads, it never crops.'
                     % (h, w, crop_size[0], crop_size[1]))
  padded = np.empty(tuple(crop_size) + (3,), np.float32)
  padded[:] = feature_extractor.mean_pixel(model_variant)
  padded[:h, :w] = image
  return padded


def resize_nearest(labels, size):
  """Nearest-neighbour resize of [B, H, W] labels, align corners (TF1's)."""
  return layers.resize_nearest(labels[..., None], size)[..., 0]


def restore_size(prediction, resized_hw, original_hw):
  """Crops the padding and undoes resize-to-range (nearest, align corners)."""
  prediction = prediction[:resized_hw[0], :resized_hw[1]]
  if tuple(resized_hw) != tuple(original_hw):
    prediction = resize_nearest(prediction[None], original_hw)[0].numpy()
  return prediction


def resize_images_to_range(images, min_size=None, max_size=None, factor=None,
                           keep_aspect_ratio=True):
  """float32 [B, H, W, 3] images resized to range as the original's input
  pipeline does (unchanged without min/max size)."""
  images = tf.cast(images, tf.float32)
  if not (min_size or max_size):
    return images
  return tf.map_fn(
      lambda image: input_preprocess.resize_to_range(
          image, None, min_size, max_size, factor, keep_aspect_ratio)[0],
      images, fn_output_signature=tf.float32)


def pad_bottom_right(images, size, value):
  """[B, H, W, C] images padded at the bottom and right to `size` with the
  per-channel `value` (one copy; `input_preprocess.pad_to_bounding_box`
  makes three)."""
  shape = tf.shape(images)
  if len(set(value)) == 1:
    # One value for all channels: a Pad, which forwards its input untouched
    # when there is nothing to pad (the usual crop-size image).
    return tf.pad(images, [[0, 0], [0, size[0] - shape[1]],
                           [0, size[1] - shape[2]], [0, 0]],
                  constant_values=tf.cast(value[0], images.dtype))
  value = tf.cast(tf.reshape(value, [1, 1, 1, -1]), images.dtype)
  right = tf.broadcast_to(value, [shape[0], shape[1], size[1] - shape[2],
                                  shape[3]])
  images = tf.concat([images, right], 2)
  bottom = tf.broadcast_to(value, [shape[0], size[0] - shape[1], size[1],
                                   shape[3]])
  return tf.concat([images, bottom], 1)


def segment(model, images, model_variant, crop_size=None, resize=None,
            probabilities=False):
  """The evaluation path on a batch of images of any size (TF ops).

  Args:
    model: An inference model (`load_model`) taking any input size.
    images: uint8 or float [B, H, W, 3].
    model_variant: Sets the mean pixel of the padding.
    crop_size: Minimum padded size (None: the image size).
    resize: `common.ResizeOptions`, or None.
    probabilities: Also return the probabilities at the input size.

  Returns:
    dict with 'predictions' int32 [B, H, W] and, when asked,
    'probabilities' float32 [B, H, W, C].
  """
  size = tf.shape(images)[1:3]
  resizes = bool(resize and resize.active)
  resized = resize_images_to_range(
      images, *(resize.as_tuple() if resizes else ()))
  resized_size = tf.shape(resized)[1:3]
  target = resized_size
  if crop_size:
    target = tf.maximum(target, tf.constant(crop_size, tf.int32))
  padded = pad_bottom_right(resized, target,
                            feature_extractor.mean_pixel(model_variant))
  outputs = model(padded, training=False)
  labels = outputs['predictions'][:, :resized_size[0], :resized_size[1]]
  # Without resize-to-range the labels are at the input size already (a
  # same-size nearest resize is a full copy).
  result = {'predictions': resize_nearest(labels, size) if resizes
            else labels}
  if probabilities:
    probs = outputs['probabilities'][:, :resized_size[0], :resized_size[1]]
    result['probabilities'] = (layers.resize_bilinear(probs, size)
                               if resizes else probs)
  return result


# Above this many pixels an image segmented whole gets a hint to tile it.
LARGE_IMAGE_PIXELS = 4096 * 4096
# Images of at least this many tiles get a progress report over them.
PROGRESS_TILES = 16


def tiles_for(model, image_hw):
  """The model's (tile size, overlap pixels) when `image_hw` is larger than
  one tile, else None (the whole image runs at once)."""
  options = getattr(model, 'inference_options', None)
  if options is None or not options.tile_size:
    if image_hw[0] * image_hw[1] > LARGE_IMAGE_PIXELS:
      logging.warning('Segmenting a %dx%d image whole: memory grows with its '
                      'pixels. --tile_size=513,513 segments it in tiles with '
                      'bounded memory.', image_hw[0], image_hw[1])
    return None
  if tiling.fits_one_tile(image_hw, options.tile_size):
    return None
  return options.tile_size, options.tile_overlap_pixels(
      model.model_options.output_stride)


class TileRunner:
  """What `tiling.segment` runs for an inference model, traced once and kept
  across images.

  `run` maps tiles to the probabilities of the model's evaluation graph
  (scales, flips). With `tile_image_pooling='image'` on a model whose image
  pooling is the global mean, `pool` is the first pass (each pass's feature
  sums over the pixels a tile owns) and `run` takes the whole image's means
  (`runtime.image_pooling_graphs`); otherwise `pool` is None and each tile
  pools over itself.
  """

  def __init__(self, model):
    self.model = model
    self.run = tf.function(self._run, reduce_retracing=True)
    self._pool_fn = self._pooled_shape = None
    self._ready = False

  def _setup(self):
    """Builds the first pass's graphs the first time an image is tiled."""
    if self._ready:
      return
    self._ready = True
    options = self.model.inference_options
    graphs = None
    if options.tile_image_pooling == 'image':
      graphs = runtime.image_pooling_graphs(self.model)
    if graphs is not None:
      self._features, self._given = graphs
      self._pooled_shape = tuple(
          int(d) for d in self._given.inputs[1].shape[1:])
      self._passes = runtime.passes(options)
      self._pool_fn = tf.function(self._pool, reduce_retracing=True)

  @property
  def pool(self):
    self._setup()
    return self._pool_fn

  @property
  def pooled_shape(self):
    self._setup()
    return self._pooled_shape

  def __call__(self, tiles, means=None):
    return self.run(tiles) if means is None else self.run(tiles, means)

  @property
  def runs_per_tile(self):
    return 1 if self.pool is None else 2

  def _run(self, tiles, means=None):
    if means is None:
      return self.model(tiles, training=False)['probabilities']
    means = tf.tile(means[None], [tf.shape(tiles)[0], 1, 1])
    return self._given([tiles, means], training=False)['probabilities']

  def _pool(self, tiles, row_weights, column_weights):
    """Feature sums [passes, C] and weight totals [passes] of each pass
    over the pixels the tiles own (`tiling.segment`)."""
    features = self._features(tiles, training=False)
    if not isinstance(features, (list, tuple)):
      features = [features]
    stride = self.model.model_options.output_stride
    th = tiles.shape[1] or tf.shape(tiles)[1]
    tw = tiles.shape[2] or tf.shape(tiles)[2]
    sums, totals = [], []
    for (scale, flipped), feature in zip(self._passes, features):
      # Feature j sits on pixel stride * j of the (scaled) tile, i.e. on
      # pixel stride * j * (t - 1) / (scaled t - 1) of the tile.
      def pixels(n, length):
        at = tf.cast(tf.range(n) * stride, tf.float32)
        if scale != 1.0:
          scaled = layers.scale_dimension(length, scale)
          at *= (tf.cast(length - 1, tf.float32) /
                 tf.cast(tf.maximum(1, scaled - 1), tf.float32))
        return tf.minimum(tf.cast(tf.round(at), tf.int32), length - 1)
      shape = tf.shape(feature)
      wy = tf.gather(row_weights, pixels(shape[1], th))
      columns = column_weights[:, ::-1] if flipped else column_weights
      wx = tf.gather(columns, pixels(shape[2], tw), axis=1)
      sums.append(tf.einsum('nhwc,h,nw->c', tf.cast(feature, tf.float32),
                            wy, wx))
      totals.append(tf.reduce_sum(wy) * tf.reduce_sum(wx))
    return tf.stack(sums), tf.stack(totals)

  def segment(self, image, tile_size, overlap, progress=None):
    """`tiling.segment` of one [H, W, 3] image with this model."""
    model = self.model
    return tiling.segment(
        self.run, image, tile_size, overlap, model.model_options.num_classes,
        feature_extractor.mean_pixel(model.model_options.model_variant),
        model.inference_options.tile_batch_size, progress,
        pool_tiles=self.pool, pooled_shape=self.pooled_shape,
        align=model.model_options.output_stride)


def tile_runner(model):
  """A `TileRunner` for `model` (keep it across images: traced once)."""
  return TileRunner(model)


def segment_image(model, image, model_variant, crop_size=None, resize=None,
                  runner=None, label=None):
  """Labels int [H, W] (numpy) of one image, the evaluation path: whole,
  or in blended tiles when the model's inference options give a tile size
  the image exceeds (`deeplab/tiling.py`; the crop then plays no part).

  Args:
    model: An inference model (`runtime.load`) taking any input size.
    image: [H, W, 3] pixels.
    model_variant: Sets the mean pixel of the padding.
    crop_size: Minimum padded size of the whole-image path.
    resize: `common.ResizeOptions`, or None.
    runner: A `tile_runner(model)` kept across images (traced once).
    label: Names the image in the progress report over its tiles.
  """
  size = tuple(int(d) for d in image.shape[:2])
  if min(size) == 0:
    raise ValueError('%s is empty (%dx%d pixels): nothing to segment.'
                     % (label or 'The image', size[0], size[1]))
  if resize and resize.active:
    resized = resize_images_to_range(image[None], *resize.as_tuple())[0]
  else:
    resized = image
  tiles = tiles_for(model, tuple(int(d) for d in resized.shape[:2]))
  if not isinstance(resized, np.ndarray):
    resized = np.asarray(resized)  # Bands converted one at a time.
  if tiles is None:
    return segment(model, image[None], model_variant, crop_size,
                   resize)['predictions'][0].numpy()
  from deeplab.datasets import build_data  # pylint: disable=g-import-not-at-top
  tile_size, overlap = tiles
  runner = runner or tile_runner(model)
  total = tiling.num_tiles(resized.shape[:2], tile_size,
                           overlap) * runner.runs_per_tile
  progress = None
  if total >= PROGRESS_TILES:
    progress = build_data.Progress(
        total, label or 'segmenting', unit='tiles' if
        runner.runs_per_tile == 1 else 'tile runs (2 per tile)').update
  labels = runner.segment(resized, tile_size, overlap, progress)
  if tuple(labels.shape) != size:
    labels = resize_nearest(tf.cast(labels, tf.int32)[None], size)[0]
  return np.asarray(labels)


def batch_predictor(model, model_variant):
  """images [B, H, W, 3] (padded to the crop by the input pipeline) ->
  numpy labels [B, H, W]: one graph call, or each image in tiles when the
  model's inference options tile images of that size."""

  def labels(images):
    return model(images, training=False)['predictions']

  whole = tf.function(labels)
  runner = tile_runner(model)

  def predict(images):
    if tiles_for(model, tuple(int(d) for d in images.shape[1:3])) is None:
      return whole(images).numpy()
    return np.stack([segment_image(model, image, model_variant,
                                   runner=runner).astype(np.int32)
                     for image in images])

  return predict


def predict_image(image, options, checkpoint=None, model=None,
                  inference=None, label=None):
  """Runs the original's evaluation on one image (no resizing).

  Args:
    image: uint8 [H, W, 3].
    options: `ModelOptions`; its crop size is the evaluation crop (None: the
      image size).
    checkpoint: Checkpoint to load (unless `model` is given).
    model: An inference model already built for `options` (with weights).
    inference: `common.InferenceOptions` of the model to load (default: the
      defaults).
    label: Names the image in the progress report over its tiles.

  Returns:
    dict with 'logits' (merged logits of the unflipped scale-1.0 pass at the
    model's output resolution, float32 [1, h, w, C]), 'predictions' (int32
    [H, W]) and, with several passes, 'probabilities' (float32
    [1, Hc, Wc, C], the mean of the per-pass softmaxes at crop resolution).
    An image segmented in tiles (`inference.tile_size`) has 'predictions'
    only (uint8 up to 256 classes).
  """
  h, w = image.shape[:2]
  inference = inference or getattr(model, 'inference_options', None)
  if inference and inference.tile_size and not tiling.fits_one_tile(
      (h, w), inference.tile_size):
    if model is None:
      model, _ = runtime.load(options.replace(crop_size=None), checkpoint,
                              inference)
    return {'predictions': segment_image(model, image, options.model_variant,
                                         label=label)}
  if options.crop_size is None:
    options = options.replace(crop_size=(h, w))
  padded = pad_to_crop(image, options.crop_size, options.model_variant)
  if model is None:
    model, _ = runtime.load(options, checkpoint, inference)
  out = model(padded[None], training=False)
  result = {
      'logits': np.asarray(out['logits'], np.float32),
      'predictions': out['predictions'].numpy()[0, :h, :w].astype(np.int32),
  }
  if not model.inference_options.single_pass:
    result['probabilities'] = out['probabilities'].numpy().astype(np.float32)
  return result
