"""Tiled (sliding-window) inference: images of any size in bounded memory.

An image larger than one tile is cut into overlapping tiles of
`tile_size`, `tile_overlap` pixels apart from a full step: tile k of a row
starts at k * (tile - overlap), but for the last row and column, which are
moved back to end where the image ends (at the first start past
size - tile on the grid of the output stride: the last tile sees
the image's border as the whole image does, with under one stride of the
variant's mean pixel below and right of it, not most of a tile of it;
padding that large is context the whole image never sees, and it moved the
labels of the last band's pixels far more than the cut context elsewhere).
Their probabilities are placed as if they started a full step on, so the
blend keeps one step; the rows and columns they would have past the image
are never read. Each tile runs the whole
inference graph (scales and flips included) and gives its class
probabilities; they are blended with a weight that ramps linearly from the
tile's edge to one over the overlap, so that no tile's border, where its
context is cut, decides a pixel another tile sees in the middle, and the
weights of the tiles covering a pixel sum to one (no seams: the blend is
continuous across every tile border).

Memory follows the tile, not the image: tiles run `tile_batch_size` at a
time, a band of tiles is never held whole. Blended columns are arg-maxed as
soon as no later tile reaches them; only the overlap carried to the next tile
(tile height x overlap x classes) and to the next band (overlap x image
width x classes) is kept. The labels (uint8 up to 256 classes) are the only
thing the size of the image.

ASPP's image-level feature is the mean of the whole image's features,
which no tile sees. With `--tile_image_pooling=image` (an
`ImagePoolingPass`), a first pass over the tiles sums each tile's features
over the pixels it owns (the overlaps cut in their middle, so every pixel's
feature is counted once) and the second
pass gives every tile those means: the tiles then compute what the whole
image does, up to the context cut at tile borders. Without it each tile
pools over itself (one pass).

`segment` is written in TensorFlow ops with `tf.range` loops, so it runs
eagerly (with a progress report) and inside a `tf.function` (the
SavedModel's `serving_tiled` signature) alike.
"""
import collections

import numpy as np
import tensorflow as tf

from deeplab.core import ops


class ImagePoolingPass(collections.namedtuple(
    'ImagePoolingPass', ['sum_features', 'shape'])):
  """The first pass over the tiles of `--tile_image_pooling=image`.

  Attributes:
    sum_features: (pixels [n, tile_h, tile_w, 3], row weights [tile_h],
      column weights [n, tile_w]) -> (weighted feature sums [passes,
      channels], weight totals [passes]) of each pass (scale, flip) of the
      inference graph.
    shape: (passes, channels) of those sums.
  """


def check_tile_size(tile_size, output_stride, flag='tile_size'):
  """Raises ValueError when a tile is too small for the network: its
  feature map must be at least 4x4 at the output stride."""
  smallest = 3 * output_stride + 1
  if min(tile_size) < smallest:
    raise ValueError(
        '--%s=%d,%d is too small for output stride %d: a tile needs at least '
        '%d pixels on a side (a 4x4 feature map); use e.g. %d,%d.' % (
            flag, tile_size[0], tile_size[1], output_stride, smallest,
            32 * output_stride + 1, 32 * output_stride + 1))


def check(model_options, inference_options):
  """Raises ValueError naming --tile_size when the tiles cannot run the
  model (too small for its output stride or its image-pooling window)."""
  tile = inference_options.tile_size
  if not tile:
    return
  check_tile_size(tile, model_options.output_stride)
  try:
    model_options.replace(crop_size=tile)
  except ValueError as e:
    raise ValueError('--tile_size=%d,%d: each tile is a crop, and %s'
                     % (tile[0], tile[1], e)) from None


def default_tile_size(model_options, crop_size=None):
  """The tiles of an export without --tile_size: its crop (513x513 without
  one), enlarged where the network needs more (`check`)."""
  tile = list(crop_size or (513, 513))
  smallest = [3 * model_options.output_stride + 1] * 2
  if model_options.add_image_level_feature and (
      model_options.image_pooling_crop_size):
    smallest = [max(a, b) for a, b in zip(
        smallest, model_options.image_pooling_crop_size)]
  return tuple(max(t, s) for t, s in zip(tile, smallest))


def tile_counts(size, tile, stride):
  """Tiles along one axis (ints or tensors): one when the image fits."""
  count = (size - tile + stride - 1) // stride + 1
  return max(1, int(count)) if isinstance(size, int) else tf.maximum(1, count)


def num_tiles(image_hw, tile_size, overlap):
  """How many tiles an image of `image_hw` is cut into."""
  return int(np.prod([tile_counts(int(s), t, t - o) for s, t, o in zip(
      image_hw, tile_size, overlap)]))


def fits_one_tile(image_hw, tile_size):
  return image_hw[0] <= tile_size[0] and image_hw[1] <= tile_size[1]


def ramp(length, overlap, back=0):
  """The blending weight across a tile (float32 [length]): rising linearly
  from its edges to one over `overlap` pixels (ones without overlap); for a
  tile that starts `back` pixels (int or tensor) before where it is
  placed, from its real first edge."""
  if overlap <= 0:
    return tf.ones([length])
  centres = tf.range(length, dtype=tf.float32) + 0.5
  return tf.minimum(1.0, tf.minimum(centres + tf.cast(back, tf.float32),
                                    length - centres) / overlap)


def _normalised_weights(length, overlap, count, stride, back=0):
  """[count, length] weights of the tiles along one axis, divided by their
  sum at every pixel (so that they sum to one); the last tile starts `back`
  pixels before its place (`segment`), so its pixels in the overlap see
  more than their distance to its edge there and weigh more."""
  frames = tf.where((tf.range(count) == count - 1)[:, None],
                    ramp(length, overlap, back)[None],
                    ramp(length, overlap)[None])
  total = tf.signal.overlap_and_add(frames, stride)
  positions = tf.range(count)[:, None] * stride + tf.range(length)[None]
  return frames / tf.gather(total, positions)


def _pad(strip, height, width, mean_pixel):
  """A [h, w, 3] float strip padded below and right with the mean pixel."""
  return ops.pad_bottom_right(strip[None], (height, width), mean_pixel)[0]


def last_start(size, tile, step, align=1):
  """Where the last tile along an axis starts (ints or tensors): the first
  multiple of `align` at or past size - tile, so that it ends at the
  image's end; 0 when the image fits one tile. `step` must be a multiple
  of `align` (else the grid is each pixel's)."""
  if step % align:
    align = 1
  start = (size - tile + align - 1) // align * align
  return max(0, start) if isinstance(size, int) else tf.maximum(0, start)


def _owned(index, count, step, overlap, size, length, start):
  """[length] float weights: 1 on the pixels of tile `index` (of `count`
  along one axis, `step` apart, this one starting at `start`) that it owns
  when the image's pixels are shared out among the tiles (cuts in the
  middle of each overlap, nothing past the image's `size`), else 0."""
  positions = start + tf.range(length)
  low = tf.where(index == 0, 0, index * step + overlap // 2)
  high = tf.where(index == count - 1, size, (index + 1) * step + overlap // 2)
  return tf.cast((positions >= low) & (positions < tf.minimum(high, size)),
                 tf.float32)


def segment(run_tiles, image, tile_size, tile_overlap_pixels, num_classes,
            mean_pixel, tile_batch_size=1, progress=None,
            image_pooling_pass=None, output_stride=None):
  """Labels of one image of any size, segmented in blended tiles.

  Args:
    run_tiles: float32 pixels [n, tile_h, tile_w, 3] (and, with an
      `image_pooling_pass`, the image-level means [passes, channels]) ->
      class probabilities float32 [n, tile_h, tile_w, num_classes] (the
      inference graph).
    image: [H, W, 3] pixels (uint8 or float), H, W >= 1.
    tile_size: (tile_h, tile_w), `--tile_size`.
    tile_overlap_pixels: (rows, columns) of overlap, each smaller than the
      tile (`InferenceOptions.tile_overlap_pixels`).
    num_classes: Channels of the probabilities.
    mean_pixel: The variant's padding value (per channel or one).
    tile_batch_size: Tiles per call of `run_tiles`.
    progress: Called with the number of tile runs done (eager only; two
      per tile with an `image_pooling_pass`).
    image_pooling_pass: None (each tile pools over itself), or the
      `ImagePoolingPass` of `--tile_image_pooling=image`: a first pass over
      the tiles then gives `run_tiles` the whole image's feature means,
      each pixel counted by the one tile that owns it.
    output_stride: The grid the last row and column of tiles start on (the
      steps between tiles are multiples of it): where their features sample
      the pixels the whole image's features do. None: a full step on, as
      every other tile (past the image into padding).

  Returns:
    Labels [H, W]: uint8 for up to 256 classes, else int32 (a NumPy array
    for a NumPy image, else a tensor).
  """
  th, tw = tile_size
  oy, ox = tile_overlap_pixels
  sy, sx = th - oy, tw - ox
  from_numpy = isinstance(image, np.ndarray)
  if from_numpy:
    # Eager, from NumPy: each band is converted as it is needed, never the
    # whole image (a copy of its size), and the labels are written into
    # their final array as they come.
    height, width = image.shape[:2]
    rows = lambda top: image[int(top):int(top) + th]
    out = np.empty((height, width),
                   np.uint8 if num_classes <= 256 else np.int32)
  else:
    image = tf.convert_to_tensor(image)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    rows = lambda top: image[top:top + th]
  ny, nx = tile_counts(height, th, sy), tile_counts(width, tw, sx)
  padded_width = (nx - 1) * sx + tw
  batches = (nx + tile_batch_size - 1) // tile_batch_size
  # The last band and column start `back_*` before a full step (< a step).
  last_y, last_x = (last_start(size, tile, step, output_stride or step)
                    for size, tile, step in ((height, th, sy), (width, tw, sx)))
  back_y, back_x = (ny - 1) * sy - last_y, (nx - 1) * sx - last_x

  def band_top(band):
    return tf.where(band == ny - 1, last_y, band * sy)

  def band_strip(band):
    return _pad(tf.cast(rows(band_top(band)), tf.float32), th, padded_width,
                mean_pixel)

  def batch_tiles(strip, batch):
    """Tiles k0..k1-1 of a band (the last one moved back), whether each is
    the last, their first column and their span."""
    k0 = batch * tile_batch_size
    k1 = tf.minimum(k0 + tile_batch_size, nx)
    x0 = k0 * sx
    length = (k1 - k0 - 1) * sx + tw
    tiles = tf.transpose(
        tf.signal.frame(strip[:, x0:x0 + length], tw, sx, axis=1),
        [1, 0, 2, 3])
    is_last = tf.equal(tf.range(k0, k1), nx - 1)[:, None, None, None]
    tiles = tf.where(is_last, strip[None, :, last_x:last_x + tw], tiles)
    return tiles, is_last, k0, k1, x0, length

  def as_if_a_full_step(scores, band, is_last):
    """The last band's and column's probabilities where a tile a full step
    on would have them (what rolls round lies past the image)."""
    scores = tf.where(band == ny - 1, tf.roll(scores, -back_y, axis=1),
                      scores)
    return tf.where(is_last, tf.roll(scores, -back_x, axis=2), scores)

  runs_done = 0
  means = None
  if image_pooling_pass is not None:
    # First pass: the whole image's feature mean of every pass, shared out
    # so that each pixel's feature is counted once (by its owning tile).
    sums = tf.zeros(image_pooling_pass.shape)
    totals = tf.zeros(image_pooling_pass.shape[:1])
    for band in tf.range(ny):
      strip = band_strip(band)
      row_weights = _owned(band, ny, sy, oy, height, th, band_top(band))
      for batch in tf.range(batches):
        tiles, _, k0, k1, _, _ = batch_tiles(strip, batch)
        column_weights = tf.map_fn(
            lambda k: _owned(k, nx, sx, ox, width, tw,
                             tf.where(k == nx - 1, last_x, k * sx)),
            tf.range(k0, k1), fn_output_signature=tf.float32)
        tile_sums, tile_totals = image_pooling_pass.sum_features(
            tiles, row_weights, column_weights)
        sums += tile_sums
        totals += tile_totals
        if progress is not None:
          progress(int(band * nx + k1))
    means = sums / tf.maximum(totals, 1.0)[:, None]
    runs_done = ny * nx
  weights_y = _normalised_weights(th, oy, ny, sy, back_y)
  weights_x = _normalised_weights(tw, ox, nx, sx, back_x)
  label_dtype = tf.uint8 if num_classes <= 256 else tf.int32
  band_labels = tf.TensorArray(label_dtype, size=ny, infer_shape=False)
  # What the bands above left for the overlap rows of this band, column
  # first: [padded_width, oy, classes].
  carry_down = tf.zeros([padded_width, oy, num_classes])
  for band in tf.range(ny):
    tf.autograph.experimental.set_loop_options(shape_invariants=[
        (carry_down, tf.TensorShape([None, oy, num_classes]))])
    y0 = band * sy
    final_rows = tf.where(band == ny - 1, th, sy)
    strip = band_strip(band)
    carry_right = tf.zeros([th, ox, num_classes])
    column_labels = tf.TensorArray(label_dtype, size=batches,
                                   infer_shape=False)
    column_carry = tf.TensorArray(tf.float32, size=batches, infer_shape=False)
    for batch in tf.range(batches):
      tiles, is_last, k0, k1, x0, length = batch_tiles(strip, batch)
      scores = run_tiles(tiles) if means is None else run_tiles(tiles, means)
      scores = as_if_a_full_step(scores, band, is_last)
      probabilities = scores * (
          weights_y[band][None, :, None, None] *
          weights_x[k0:k1][:, None, :, None])
      # Sum the tiles where they overlap: [th, length, classes].
      blended = tf.transpose(tf.signal.overlap_and_add(
          tf.transpose(probabilities, [1, 3, 0, 2]), sx), [0, 2, 1])
      blended = tf.concat([blended[:, :ox] + carry_right, blended[:, ox:]], 1)
      carry_right = tf.ensure_shape(blended[:, length - ox:],
                                    [th, ox, num_classes])
      done = tf.where(k1 == nx, length, length - ox)
      columns = blended[:, :done]
      columns = tf.concat(
          [columns[:oy] + tf.transpose(carry_down[x0:x0 + done], [1, 0, 2]),
           columns[oy:]], 0)
      labels = tf.cast(tf.argmax(columns[:final_rows], axis=-1,
                                 output_type=tf.int32), label_dtype)
      if from_numpy:
        top, left = int(y0), int(x0)
        piece = labels.numpy()[:height - top, :width - left]
        out[top:top + piece.shape[0], left:left + piece.shape[1]] = piece
      else:
        column_labels = column_labels.write(batch, tf.transpose(labels))
      column_carry = column_carry.write(
          batch, tf.transpose(columns[sy:], [1, 0, 2]))
      if progress is not None:
        progress(int(runs_done + band * nx + k1))
    carry_down = tf.ensure_shape(column_carry.concat(),
                                 [None, oy, num_classes])
    if not from_numpy:
      band_labels = band_labels.write(band,
                                      tf.transpose(column_labels.concat()))
  if from_numpy:
    return out
  return band_labels.concat()[:height, :width]
