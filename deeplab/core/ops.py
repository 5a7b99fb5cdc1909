"""The original's numerics as TensorFlow functions.

Every resize is TF1's align-corners geometry (the original resizes with
`align_corners=True` everywhere, to sizes `(n - 1) * s + 1`); labels are
the first largest channel; activations are the original's own formulas
(hard-swish, its q-sigmoid constant). Layers (`layers.py`), the tiles
(`deeplab/tiling.py`) and the input path (`deeplab/inference.py`) build on
these.
"""
import numpy as np
import tensorflow as tf


def scale_dimension(dim, scale):
  """The original's `scale_dimension`: int((dim - 1) * scale + 1).

  Python numbers are computed in double precision, tensors in float32, as the
  original does; both truncate towards zero.
  """
  if isinstance(dim, (int, float)):
    return int((float(dim) - 1.0) * scale + 1.0)
  return tf.cast((tf.cast(dim, tf.float32) - 1.0) * scale + 1.0, tf.int32)


def resize_bilinear(images, size):
  """Bilinear resize with align_corners=True, TF1's geometry.

  The original resizes with `align_corners=True` everywhere (sizes are
  `(n - 1) * s + 1`), which maps corner pixels onto corner pixels; TF2's
  `tf.image.resize` uses half-pixel centres and would shift every feature.
  """
  out = tf.raw_ops.ResizeBilinear(images=images, size=tf.cast(size, tf.int32),
                                  align_corners=True, half_pixel_centers=False)
  return tf.cast(out, images.dtype)


def resize_nearest(images, size):
  """Nearest-neighbour resize with align_corners=True (TF1's geometry), for
  label maps [B, H, W, C] of any dtype."""
  return tf.raw_ops.ResizeNearestNeighbor(
      images=images, size=tf.cast(size, tf.int32), align_corners=True,
      half_pixel_centers=False)


def channel_argmax(x):
  """Index of the largest channel, int32 (first one on ties, as tf.argmax).

  Computed as top-1 of `tf.math.top_k`, which returns the same index (it
  breaks ties towards the lower index too) and runs about twice as fast as
  TF's ArgMax over a short last axis on CPU.
  """
  return tf.math.top_k(x, 1).indices[..., 0]


def _block_factor(in_size, out_size):
  """f where `out_size - 1 == f * (in_size - 1)` and f is a power of two
  (then align-corners positions are exactly i + a / f), else 0."""
  factor = (out_size - 1) // tf.maximum(in_size - 1, 1)
  exact = tf.logical_and(
      tf.logical_and(in_size > 1, factor > 0),
      tf.logical_and(tf.equal(factor * (in_size - 1), out_size - 1),
                     tf.equal(tf.bitwise.bitwise_and(factor, factor - 1), 0)))
  return tf.where(exact, factor, 0)


def upsampled_argmax(logits, size, max_boundary_share=0.5):
  """`channel_argmax(resize_bilinear(logits, size))` without upsampling the
  logits where their argmax is known.

  Bilinear interpolation makes each output pixel a convex combination of
  the four corners of its low-resolution cell. Where the four agree on the
  argmax c, c is strictly above every lower channel and not below any
  higher one in each of them, so also in the combination: its argmax (first
  index on ties) is c. Only cells with disagreeing corners (class
  boundaries, a small share in a real segmentation) are interpolated, with
  the kernel's weights and formula (order of operations included), so the
  labels equal the full computation's.

  That needs each output pixel to sit at an exact position i + a / f inside
  a cell, i.e. `size - 1 == f * (input size - 1)` with f a power of two (513
  from 33 or 129, 257 from 17 or 65, ...). Other sizes, and label maps
  where more than `max_boundary_share` of the cells are boundary cells, run
  the full resize and argmax.

  Args:
    logits: float32 [B, h, w, C].
    size: (H, W) output size.
    max_boundary_share: Above this share of boundary cells the full
      computation runs.

  Returns:
    int32 [B, H, W] labels.
  """
  logits = tf.convert_to_tensor(logits)
  size = tf.cast(size, tf.int32)
  shape = tf.shape(logits)
  batch, height, width = shape[0], shape[1], shape[2]
  f_y = _block_factor(height, size[0])
  f_x = _block_factor(width, size[1])
  labels = channel_argmax(logits)
  # Cell (i, j) has corners i..i+1, j..j+1, clamped at the last row and
  # column (whose cells only reach the output's last row or column).
  right = tf.concat([labels[:, :, 1:], labels[:, :, -1:]], 2)
  down = tf.concat([labels[:, 1:], labels[:, -1:]], 1)
  diagonal = tf.concat([right[:, 1:], right[:, -1:]], 1)
  boundary = tf.logical_not(tf.logical_and(
      tf.equal(labels, right),
      tf.logical_and(tf.equal(labels, down), tf.equal(labels, diagonal))))
  cells = tf.where(boundary)
  few = (tf.cast(tf.shape(cells)[0], tf.float32) <=
         max_boundary_share * tf.cast(tf.size(labels), tf.float32))

  def by_cells():
    # [B, h, w, f_y, f_x] blocks of each cell's label, the boundary cells
    # interpolated as ResizeBilinear does at positions a / f.
    blocks = tf.broadcast_to(labels[:, :, :, None, None],
                             [batch, height, width, f_y, f_x])
    lerp_y = tf.cast(tf.range(f_y), tf.float32) / tf.cast(f_y, tf.float32)
    lerp_x = tf.cast(tf.range(f_x), tf.float32) / tf.cast(f_x, tf.float32)
    index = tf.cast(cells, tf.int32)
    b, i, j = index[:, 0], index[:, 1], index[:, 2]
    i1 = tf.minimum(i + 1, height - 1)
    j1 = tf.minimum(j + 1, width - 1)

    def corner(rows, cols):  # [n, 1, 1, C]
      return tf.gather_nd(logits, tf.stack([b, rows, cols], 1))[:, None,
                                                                  None]

    x_w = lerp_x[None, None, :, None]
    top_left, top_right = corner(i, j), corner(i, j1)
    bottom_left, bottom_right = corner(i1, j), corner(i1, j1)
    top = top_left + (top_right - top_left) * x_w
    bottom = bottom_left + (bottom_right - bottom_left) * x_w
    values = top + (bottom - top) * lerp_y[None, :, None, None]
    blocks = tf.tensor_scatter_nd_update(blocks, index,
                                         channel_argmax(values))
    out = tf.reshape(tf.transpose(blocks, [0, 1, 3, 2, 4]),
                     [batch, height * f_y, width * f_x])
    return out[:, :size[0], :size[1]]

  def everywhere():
    return channel_argmax(resize_bilinear(logits, size))

  return tf.cond(
      tf.logical_and(tf.logical_and(f_y > 0, f_x > 0), few), by_cells,
      everywhere)


def hard_swish(x):
  """MobileNetV3's x * relu6(x + 3) / 6, as slim computes it."""
  return x * tf.nn.relu6(x + tf.constant(3, x.dtype)) * tf.constant(
      np.float32(1. / 6.), x.dtype)


def q_sigmoid(x):
  """The original's hard sigmoid: relu6(x + 3) * 0.16667 (that constant)."""
  return tf.nn.relu6(x + tf.constant(3, x.dtype)) * tf.constant(
      0.16667, x.dtype)


# Every activation a conv of the original ends with.
ACTIVATIONS = {
    None: lambda x: x,
    'relu': tf.nn.relu,
    'relu6': tf.nn.relu6,
    'hard_swish': hard_swish,
    'q_sigmoid': q_sigmoid,
    'sigmoid': tf.nn.sigmoid,
}


def pad_bottom_right(images, size, value):
  """[B, H, W, C] images padded at the bottom and right to `size` with the
  per-channel `value` (one copy; `input_preprocess.pad_to_bounding_box`
  makes three)."""
  shape = tf.shape(images)
  # Pads that cannot be negative by construction: graph compilers (OpenVINO)
  # bound each dimension by interval arithmetic, where size - shape alone
  # may be negative.
  bottom_pad = tf.maximum(size[0] - shape[1], 0)
  right_pad = tf.maximum(size[1] - shape[2], 0)
  if len(set(value)) == 1:
    # One value for all channels: a Pad, which forwards its input untouched
    # when there is nothing to pad (the usual crop-size image).
    return tf.pad(images, [[0, 0], [0, bottom_pad], [0, right_pad], [0, 0]],
                  constant_values=tf.cast(value[0], images.dtype))
  value = tf.cast(tf.reshape(value, [1, 1, 1, -1]), images.dtype)
  right = tf.broadcast_to(value, [shape[0], shape[1], right_pad, shape[3]])
  images = tf.concat([images, right], 2)
  bottom = tf.broadcast_to(value, [shape[0], bottom_pad,
                                   shape[2] + right_pad, shape[3]])
  return tf.concat([images, bottom], 1)
