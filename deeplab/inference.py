"""Image in, labels out: what predict, vis, eval and export share.

The original's evaluation path for one image: resize to range when asked,
pad bottom/right with the variant's mean pixel to the crop (or to the image
when it is larger: the original never crops at evaluation), run the
inference graph (scales, flips), crop the valid region and resize back to
the input size (nearest for labels, bilinear for probabilities, align
corners). `segment` is that path in TensorFlow ops, so the SavedModel's
serving function and in-process visualisation run the same graph;
`segment_image` runs one image whole, or in blended tiles when the model's
inference options give a tile size the image exceeds (`TileRunner`,
`deeplab/tiling.py`); `predict_image` is the numpy path of the single-image
tool, which also returns the logits.
"""
from absl import logging
import numpy as np
import tensorflow as tf

from deeplab import progress as progress_lib
from deeplab import runtime
from deeplab import tiling
from deeplab.core import feature_extractor
from deeplab.core import ops
from deeplab.data import input_preprocess


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
  return ops.resize_nearest(labels[..., None], size)[..., 0]


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


def segment(model, images, model_variant, crop_size=None, resize=None,
            probabilities=False):
  """The evaluation path on a batch of images of any size (TF ops).

  Args:
    model: An inference model (`runtime.load`) taking any input size.
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
  padded = ops.pad_bottom_right(resized, target,
                                feature_extractor.mean_pixel(model_variant))
  outputs = model(padded, training=False)
  labels = outputs['predictions'][:, :resized_size[0], :resized_size[1]]
  # Without resize-to-range the labels are at the input size already (a
  # same-size nearest resize is a full copy).
  result = {'predictions': resize_nearest(labels, size) if resizes
            else labels}
  if probabilities:
    probs = outputs['probabilities'][:, :resized_size[0], :resized_size[1]]
    result['probabilities'] = (ops.resize_bilinear(probs, size)
                               if resizes else probs)
  return result


# Above this many pixels an image segmented whole gets a hint to tile it.
LARGE_IMAGE_PIXELS = 4096 * 4096
# Images of at least this many tiles get a progress report over them.
PROGRESS_TILES = 16


def tiles(model, image_hw):
  """Whether `model` segments an image of `image_hw` in tiles: its inference
  options give a tile size the image exceeds (else it runs whole)."""
  options = getattr(model, 'inference_options', None)
  if options is None or not options.tile_size:
    if image_hw[0] * image_hw[1] > LARGE_IMAGE_PIXELS:
      logging.warning('Segmenting a %dx%d image whole: memory grows with its '
                      'pixels. --tile_size=513,513 segments it in tiles with '
                      'bounded memory.', image_hw[0], image_hw[1])
    return False
  return not tiling.fits_one_tile(image_hw, options.tile_size)


class TileRunner:
  """What `tiling.segment` runs for an inference model, traced once and kept
  across images; the tiles are the model's `inference_options` (its
  `tile_size`, `tile_overlap`, `tile_batch_size`, `tile_image_pooling`).

  `run` maps tiles to the probabilities of the model's evaluation graph
  (scales, flips). With `tile_image_pooling='image'` on a model whose image
  pooling is the global mean, `image_pooling_pass` is the first pass (each
  pass's feature sums over the pixels a tile owns) and `run` takes the whole
  image's means (`runtime.image_pooling_graphs`); otherwise it is None and
  each tile pools over itself.
  """

  def __init__(self, model):
    self.model = model
    self.run = tf.function(self._run, reduce_retracing=True)
    self._pass = None
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
      self._passes = runtime.passes(options)
      self._pass = tiling.ImagePoolingPass(
          tf.function(self._sum_features, reduce_retracing=True),
          tuple(int(d) for d in self._given.inputs[1].shape[1:]))

  @property
  def image_pooling_pass(self):
    """The `tiling.ImagePoolingPass` of the tiles, or None."""
    self._setup()
    return self._pass

  def __call__(self, tiles, means=None):
    return self.run(tiles) if means is None else self.run(tiles, means)

  @property
  def runs_per_tile(self):
    return 1 if self.image_pooling_pass is None else 2

  def _run(self, tiles, means=None):
    if means is None:
      return self.model(tiles, training=False)['probabilities']
    means = tf.tile(means[None], [tf.shape(tiles)[0], 1, 1])
    return self._given([tiles, means], training=False)['probabilities']

  def _sum_features(self, tiles, row_weights, column_weights):
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
          scaled = ops.scale_dimension(length, scale)
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

  @property
  def tile_overlap_pixels(self):
    """The tiles' overlap in pixels (rows, columns)."""
    return self.model.inference_options.tile_overlap_pixels(
        self.model.model_options.output_stride)

  def num_runs(self, image_hw):
    """How many tile runs an image of `image_hw` takes."""
    return tiling.num_tiles(image_hw, self.model.inference_options.tile_size,
                            self.tile_overlap_pixels) * self.runs_per_tile

  def segment(self, image, progress=None):
    """`tiling.segment` of one [H, W, 3] image with this model's tiles."""
    model_options = self.model.model_options
    inference_options = self.model.inference_options
    return tiling.segment(
        self.run, image, inference_options.tile_size,
        self.tile_overlap_pixels, model_options.num_classes,
        feature_extractor.mean_pixel(model_options.model_variant),
        inference_options.tile_batch_size, progress,
        image_pooling_pass=self.image_pooling_pass,
        output_stride=model_options.output_stride)


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
  if not tiles(model, tuple(int(d) for d in resized.shape[:2])):
    return segment(model, image[None], model_variant, crop_size,
                   resize)['predictions'][0].numpy()
  if not isinstance(resized, np.ndarray):
    resized = np.asarray(resized)  # Bands converted one at a time.
  runner = runner or tile_runner(model)
  total = runner.num_runs(resized.shape[:2])
  progress = None
  if total >= PROGRESS_TILES:
    progress = progress_lib.Progress(
        total, label or 'segmenting', unit='tiles' if
        runner.runs_per_tile == 1 else 'tile runs (2 per tile)').update
  labels = runner.segment(resized, progress)
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
    if not tiles(model, tuple(int(d) for d in images.shape[1:3])):
      return whole(images).numpy()
    return np.stack([segment_image(model, image, model_variant,
                                   runner=runner).astype(np.int32)
                     for image in images])

  return predict


def predict_image(image, options, checkpoint=None, model=None,
                  inference_options=None, label=None):
  """Runs the original's evaluation on one image (no resizing).

  Args:
    image: uint8 [H, W, 3].
    options: `ModelOptions`; its crop size is the evaluation crop (None: the
      image size).
    checkpoint: Checkpoint to load (unless `model` is given).
    model: An inference model already built for `options` (with weights).
    inference_options: `common.InferenceOptions` of the model to load
      (default: the defaults).
    label: Names the image in the progress report over its tiles.

  Returns:
    dict with 'logits' (merged logits of the unflipped scale-1.0 pass at the
    model's output resolution, float32 [1, h, w, C]), 'predictions' (int32
    [H, W]) and, with several passes, 'probabilities' (float32
    [1, Hc, Wc, C], the mean of the per-pass softmaxes at crop resolution).
    An image segmented in tiles (`inference_options.tile_size`) has
    'predictions' only (uint8 up to 256 classes).
  """
  h, w = image.shape[:2]
  inference_options = inference_options or getattr(
      model, 'inference_options', None)
  if inference_options and inference_options.tile_size and not (
      tiling.fits_one_tile((h, w), inference_options.tile_size)):
    if model is None:
      model, _ = runtime.load(options.replace(crop_size=None), checkpoint,
                              inference_options)
    return {'predictions': segment_image(model, image, options.model_variant,
                                         label=label)}
  if options.crop_size is None:
    options = options.replace(crop_size=(h, w))
  padded = pad_to_crop(image, options.crop_size, options.model_variant)
  if model is None:
    model, _ = runtime.load(options, checkpoint, inference_options)
  out = model(padded[None], training=False)
  result = {
      'logits': np.asarray(out['logits'], np.float32),
      'predictions': out['predictions'].numpy()[0, :h, :w].astype(np.int32),
  }
  if not model.inference_options.single_pass:
    result['probabilities'] = out['probabilities'].numpy().astype(np.float32)
  return result


class Segmenter:
  """An inference model with what segmenting an image takes: its options,
  the evaluation crop, and the class names and colours of its dataset.

  `deeplab.from_preset` returns one. It is called like the Keras model it
  holds (`model`), whose other attributes it passes through, and its
  `segment` takes uint8 images as they are.

  Attributes:
    model: The Keras inference model (`runtime.load`), any input size.
    class_names: The dataset's class names in id order, or None.
    colormap: Its colours (a `colormaps` name or a list of [r, g, b]).
    eval_crop_size: The minimum padded size of `segment` (a published
      evaluation's crop), or None (the image's own size).
  """

  def __init__(self, model, class_names=None, colormap='pascal',
               eval_crop_size=None):
    self.model = model
    self.class_names = class_names
    self.colormap = colormap
    self.eval_crop_size = tuple(eval_crop_size) if eval_crop_size else None

  @property
  def model_options(self):
    return self.model.model_options

  @property
  def inference_options(self):
    return self.model.inference_options

  def __call__(self, *args, **kwargs):
    return self.model(*args, **kwargs)

  def __getattr__(self, name):
    if name == 'model':  # Not set yet (unpickling): no recursion.
      raise AttributeError(name)
    return getattr(self.model, name)

  def segment(self, images, crop_size=None):
    """Labels of uint8 images by the original's evaluation path.

    Args:
      images: uint8 [H, W, 3] or [B, H, W, 3] (any size).
      crop_size: The minimum padded size (default: `eval_crop_size`, else
        the image's).

    Returns:
      int32 labels [H, W] (or [B, H, W]) at the input size.
    """
    batch = np.asarray(images)
    single = batch.ndim == 3
    labels = segment(self.model, batch[None] if single else batch,
                     self.model_options.model_variant,
                     crop_size or self.eval_crop_size)['predictions']
    labels = labels.numpy()
    return labels[0] if single else labels
