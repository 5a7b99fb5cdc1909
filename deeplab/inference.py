"""Image in, labels out: what predict, vis, eval and export share.

The original's evaluation path for one image: resize to range when asked,
pad bottom/right with the variant's mean pixel to the crop (or to the image
when it is larger: the original never crops at evaluation), run the
inference graph (scales, flips), crop the valid region and resize back to
the input size (nearest for labels, bilinear for probabilities, align
corners). `segment` is that path in TensorFlow ops, so the SavedModel's
serving function and in-process visualisation run the same graph (eagerly
called, the model runs as a traced graph: `run_whole`).

`plan` decides how one image of any size is segmented: whole, or in blended
tiles (`TileRunner`, `deeplab/tiling.py`) when the model's inference options
give a tile size the image exceeds, or when its whole-image inference would
not fit the memory budget (`deeplab/memory.py`). `segment_image` follows the
plan; `predict_image` is the numpy path of the single-image tool, which also
returns the logits (`deeplab/segmenter.py` holds what `from_preset` returns).
"""
import copy
import dataclasses
from typing import Optional, Tuple
import weakref

from absl import logging
import numpy as np
import tensorflow as tf

from deeplab import memory
from deeplab import progress as progress_lib
from deeplab import common
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
  outputs = run_whole(model, padded, ('predictions', 'probabilities')
                      if probabilities else ('predictions',))
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


# Above this many pixels an image evaluated whole gets a hint to tile it.
LARGE_IMAGE_PIXELS = 4096 * 4096
# Images of at least this many tiles get a progress report over them.
PROGRESS_TILES = 16
# Images up to this many pixels run whole without an estimate: under half a
# GB for the model zoo's networks (`memory.bytes_per_pixel`).
SMALL_IMAGE_PIXELS = 1024 * 1024

# Traced whole-image graphs per model (see `run_whole`).
_WHOLE_GRAPHS = weakref.WeakKeyDictionary()


def run_whole(model, images, keys=('predictions',)):
  """`model`'s outputs `keys` for a batch of padded images, run as a graph.

  In a graph TensorFlow frees each tensor after its last use; an eager call
  of a Keras model keeps every layer's output to the end, about ten times
  the memory of a whole image (and slower). Traced once per model and kept
  (`reduce_retracing`: one trace serves every image size after the first
  two).
  """
  keys = tuple(keys)
  if not tf.executing_eagerly():
    outputs = model(images, training=False)
    return {k: outputs[k] for k in keys}
  graphs = _WHOLE_GRAPHS.setdefault(model, {})
  if keys not in graphs:
    ref = weakref.ref(model)

    def run(x):
      outputs = ref()(x, training=False)
      return {k: outputs[k] for k in keys}

    graphs[keys] = tf.function(run, reduce_retracing=True)
  return graphs[keys](tf.convert_to_tensor(images, tf.float32))


def tiles(model, image_hw):
  """Whether `model` evaluates an image of `image_hw` in tiles: its inference
  options give a tile size the image exceeds (else it runs whole; a
  memory budget plays no part in evaluation, see `plan`)."""
  options = getattr(model, 'inference_options', None)
  if options is None or not options.tile_size:
    if image_hw[0] * image_hw[1] > LARGE_IMAGE_PIXELS:
      logging.warning('Segmenting a %dx%d image whole: memory grows with its '
                      'pixels. --tile_size=513,513 segments it in tiles with '
                      'bounded memory.', image_hw[0], image_hw[1])
    return False
  return not tiling.fits_one_tile(image_hw, options.tile_size)


def _megabytes(mb):
  return '%.1f GB' % (mb / 1024) if mb >= 1024 else '%d MB' % round(mb)


@dataclasses.dataclass(frozen=True)
class Plan:
  """How one image is segmented (`plan`): whole, or in tiles, and why.

  Attributes:
    image_hw: The image's (height, width).
    tile_size: The tiles' (height, width), or None: whole.
    num_tiles: How many tiles (1 whole).
    estimate_mb: The estimated memory of the whole image, where it was
      estimated (`memory.whole_image_mb`).
    budget_mb: The memory budget it was held against.
    chosen: Whether the tiles are the user's (`tile_size`), not the budget's.
  """
  image_hw: Tuple[int, int]
  tile_size: Optional[Tuple[int, int]] = None
  num_tiles: int = 1
  estimate_mb: Optional[float] = None
  budget_mb: Optional[int] = None
  chosen: bool = False

  @property
  def tiled(self):
    return self.tile_size is not None

  def describe(self, python=False):
    """'whole', or 'in 30 tiles of 513x513' with the reason and how to
    choose it (flags, or with `python` the `InferenceOptions` fields)."""
    if not self.tiled:
      if self.estimate_mb is None:
        return 'whole'
      return 'whole (about %s of memory, within the budget of %s)' % (
          _megabytes(self.estimate_mb), _megabytes(self.budget_mb))
    tiles_text = 'in %d tiles of %dx%d' % ((self.num_tiles,) + self.tile_size)
    if self.chosen:
      return '%s (%s)' % (tiles_text, 'tile_size' if python else '--tile_size')
    choose = ('InferenceOptions(memory_budget_mb=0) runs it whole, '
              'InferenceOptions(tile_size=(h, w)) chooses the tiles'
              if python else '--memory_budget_mb=0 runs it whole, '
              '--tile_size chooses the tiles')
    return ('%s: whole, it would need about %s of memory, over the budget of '
            '%s (%s)' % (tiles_text, _megabytes(self.estimate_mb),
                         _megabytes(self.budget_mb), choose))


def plan(model, image_hw):
  """Whole or tiles for an image of `image_hw` (after any resize to range).

  Tiles when the model's inference options give a tile size the image
  exceeds; without one, tiles of `tiling.default_tile_size` when the
  estimated memory of the whole image exceeds `memory_budget_mb` (default
  half of this machine's memory; 0: always whole); else whole.
  """
  hw = tuple(int(d) for d in image_hw)
  options = getattr(model, 'inference_options', None)
  if options is None or None not in tuple(model.inputs[0].shape[1:3]):
    return Plan(hw)  # A graph of one fixed size runs whole.
  if options.tile_size:
    if tiling.fits_one_tile(hw, options.tile_size):
      return Plan(hw)
    overlap = options.tile_overlap_pixels(model.model_options.output_stride)
    return Plan(hw, tuple(options.tile_size),
                tiling.num_tiles(hw, options.tile_size, overlap), chosen=True)
  if options.memory_budget_mb == 0 or hw[0] * hw[1] <= SMALL_IMAGE_PIXELS:
    return Plan(hw)
  budget = options.memory_budget_mb or memory.default_budget_mb()
  estimate = memory.whole_image_mb(model, hw)
  if estimate <= budget:
    return Plan(hw, estimate_mb=estimate, budget_mb=budget)
  tile = tiling.default_tile_size(model.model_options)
  if tiling.fits_one_tile(hw, tile):
    return Plan(hw, estimate_mb=estimate, budget_mb=budget)  # Tiles: no less.
  overlap = options.replace(tile_size=tile).tile_overlap_pixels(
      model.model_options.output_stride)
  return Plan(hw, tile, tiling.num_tiles(hw, tile, overlap), estimate, budget)


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

  def __init__(self, model, tile_size=None):
    self.model = model
    self.options = model.inference_options
    if tile_size:
      self.options = self.options.replace(tile_size=tuple(tile_size))
    self.run = tf.function(self._run, reduce_retracing=True)
    self._pass = None
    self._ready = False

  @property
  def tile_size(self):
    return self.options.tile_size

  def with_tile_size(self, tile_size):
    """This runner (its traced graphs) cutting tiles of `tile_size`."""
    if tuple(tile_size) == self.tile_size:
      return self
    self._setup()  # The traced graphs are this runner's: shared, built once.
    other = copy.copy(self)
    other.options = self.options.replace(tile_size=tuple(tile_size))
    return other

  def _setup(self):
    """Builds the first pass's graphs the first time an image is tiled."""
    if self._ready:
      return
    self._ready = True
    options = self.options
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
    return self.options.tile_overlap_pixels(
        self.model.model_options.output_stride)

  def num_runs(self, image_hw):
    """How many tile runs an image of `image_hw` takes."""
    return tiling.num_tiles(image_hw, self.tile_size,
                            self.tile_overlap_pixels) * self.runs_per_tile

  def segment(self, image, progress=None):
    """`tiling.segment` of one [H, W, 3] image with this model's tiles."""
    model_options = self.model.model_options
    inference_options = self.options
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
                  runner=None, label=None, how=None):
  """Labels int [H, W] (numpy) of one image, the evaluation path: whole,
  or in blended tiles (`deeplab/tiling.py`; the crop then plays no part)
  when `plan` says so.

  Args:
    model: An inference model (`runtime.load`) taking any input size.
    image: [H, W, 3] pixels.
    model_variant: Sets the mean pixel of the padding.
    crop_size: Minimum padded size of the whole-image path.
    resize: `common.ResizeOptions`, or None.
    runner: A `tile_runner(model)` kept across images (traced once).
    label: Names the image in the progress report over its tiles.
    how: The image's `plan` (after any resize), when the caller made it.
  """
  size = tuple(int(d) for d in image.shape[:2])
  if min(size) == 0:
    raise ValueError('%s is empty (%dx%d pixels): nothing to segment.'
                     % (label or 'The image', size[0], size[1]))
  if resize and resize.active:
    resized = resize_images_to_range(image[None], *resize.as_tuple())[0]
  else:
    resized = image
  how = how or plan(model, resized.shape[:2])
  if not how.tiled:
    return segment(model, image[None], model_variant, crop_size,
                   resize)['predictions'][0].numpy()
  if not isinstance(resized, np.ndarray):
    resized = np.asarray(resized)  # Bands converted one at a time.
  runner = (runner or tile_runner(model)).with_tile_size(how.tile_size)
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
                  inference_options=None, label=None, with_plan=False):
  """Runs the original's evaluation on one image (no resizing).

  The image is padded to the crop, or to itself where it is larger (the
  original pads, it never crops), and runs whole, or in tiles when `plan`
  says so (a tile size it exceeds, or a whole-image estimate over the
  memory budget).

  Args:
    image: uint8 [H, W, 3].
    options: `ModelOptions`; its crop size is the evaluation crop (None: the
      image size).
    checkpoint: Checkpoint to load (unless `model` is given).
    model: An inference model already built for `options` (with weights).
    inference_options: `common.InferenceOptions` of the model to load
      (default: the defaults).
    label: Names the image in the progress report over its tiles.
    with_plan: Also return the image's `Plan`.

  Returns:
    dict with 'logits' (merged logits of the unflipped scale-1.0 pass at the
    model's output resolution, float32 [1, h, w, C]), 'predictions' (int32
    [H, W]) and, with several passes, 'probabilities' (float32
    [1, Hc, Wc, C], the mean of the per-pass softmaxes at crop resolution).
    An image segmented in tiles has 'predictions' only (uint8 up to 256
    classes). With `with_plan`, (that dict, its `Plan`).
  """
  h, w = image.shape[:2]
  crop = tuple(max(c, s) for c, s in zip(options.crop_size or (h, w), (h, w)))
  if model is None:
    inference_options = inference_options or common.InferenceOptions()
    may_tile = (inference_options.tile_size and not tiling.fits_one_tile(
        (h, w), inference_options.tile_size)) or (
            not inference_options.tile_size and
            inference_options.memory_budget_mb != 0 and
            h * w > SMALL_IMAGE_PIXELS)
    # A graph of the crop's fixed size, unless the image may be tiled.
    model, _ = runtime.load(options.replace(crop_size=None if may_tile
                                            else crop),
                            checkpoint, inference_options)
  how = plan(model, (h, w))
  if how.tiled:
    result = {'predictions': segment_image(model, image, options.model_variant,
                                           label=label, how=how)}
    return (result, how) if with_plan else result
  padded = pad_to_crop(image, crop, options.model_variant)
  keys = ('logits', 'predictions')
  if not model.inference_options.single_pass:
    keys += ('probabilities',)
  out = run_whole(model, padded[None], keys)
  result = {
      'logits': np.asarray(out['logits'], np.float32),
      'predictions': out['predictions'].numpy()[0, :h, :w].astype(np.int32),
  }
  if 'probabilities' in out:
    result['probabilities'] = out['probabilities'].numpy().astype(np.float32)
  return (result, how) if with_plan else result
