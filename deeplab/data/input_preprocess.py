"""The original's preprocessing, step by step, in its order.

Training: resize to range (optional) -> random scale -> pad to the crop with
the mean pixel (label: ignore label) -> random crop -> random left-right flip.
Evaluation: resize to range (optional) -> pad to the crop. Images are float32
pixels in [0, 255]; normalisation happens inside the model.
"""
import tensorflow as tf

from deeplab.core import feature_extractor

_PROB_OF_FLIP = 0.5


def _resize(image, size, method):
  """Align-corners resize of an HWC tensor (TF1's geometry)."""
  x = image[None]
  if method == 'bilinear':
    out = tf.raw_ops.ResizeBilinear(images=tf.cast(x, tf.float32), size=size,
                                    align_corners=True,
                                    half_pixel_centers=False)
  else:
    out = tf.raw_ops.ResizeNearestNeighbor(images=x, size=size,
                                           align_corners=True,
                                           half_pixel_centers=False)
  return out[0]


def resize_to_range(image, label=None, min_size=None, max_size=None,
                    factor=None, keep_aspect_ratio=True):
  """Resizes so the short side is `min_size` and the long one <= `max_size`.

  As the original: the size from the short side is used unless its long side
  exceeds `max_size` (then the long side is `max_size`); with `factor`, sides
  become multiples of factor plus one (and `max_size` is lowered to such a
  number first). Image: bilinear, label: nearest, both align-corners.
  """
  shape = tf.shape(image)
  height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
  if max_size is not None:
    max_size = float(max_size)
    if factor is not None:
      max_size = max_size - (max_size - 1) % factor
  if min_size is not None:
    scale = float(min_size) / tf.minimum(height, width)
    large = tf.cast(tf.floor(tf.stack([height, width]) * scale), tf.int32)
  else:
    large = tf.stack([shape[0], shape[1]])
  new_size = large
  if max_size is not None:
    small_scale = max_size / tf.maximum(height, width)
    small = tf.cast(tf.floor(tf.stack([height, width]) * small_scale),
                    tf.int32)
    new_size = tf.cond(tf.cast(tf.reduce_max(large), tf.float32) > max_size,
                       lambda: small, lambda: large)
  if factor is not None:
    new_size += (factor - (new_size - 1) % factor) % factor
  if not keep_aspect_ratio:
    side = tf.reduce_max(new_size)
    new_size = tf.stack([side, side])
  image = _resize(image, new_size, 'bilinear')
  if label is not None:
    label = _resize(label, new_size, 'nearest')
  return image, label


def _uniform(shape, minval, maxval, dtype, seed):
  """tf.random.uniform, or its stateless form when `seed` is a [2] tensor.

  A stateless seed makes an element's augmentation a function of the seed
  alone (not of how many elements were drawn before it, by which thread or
  on which worker), which is what reproducible and worker-count-independent
  training needs.
  """
  if seed is None or isinstance(seed, int):
    return tf.random.uniform(shape, minval, maxval, dtype=dtype, seed=seed)
  return tf.random.stateless_uniform(shape, seed, minval, maxval, dtype=dtype)


def _sub_seed(seed, index):
  if seed is None or isinstance(seed, int):
    return seed
  return tf.cast(seed, tf.int64) * tf.constant([1, 7919], tf.int64) + index


def get_random_scale(min_scale_factor, max_scale_factor, step_size, seed=None):
  """A random scale: uniform in [min, max), or one of the discrete steps.

  `seed` is an op seed (int) or a stateless seed (shape [2] tensor).
  """
  if min_scale_factor < 0 or min_scale_factor > max_scale_factor:
    raise ValueError('Unexpected value of min_scale_factor (%r) / '
                     'max_scale_factor (%r).' % (min_scale_factor,
                                                 max_scale_factor))
  if min_scale_factor == max_scale_factor:
    return tf.constant(float(min_scale_factor), tf.float32)
  if step_size == 0:
    return _uniform([], min_scale_factor, max_scale_factor, tf.float32, seed)
  num_steps = int((max_scale_factor - min_scale_factor) / step_size + 1)
  scales = tf.linspace(float(min_scale_factor), float(max_scale_factor),
                       num_steps)
  index = _uniform([], 0, num_steps, tf.int32, seed)
  return scales[index]


def randomly_scale_image_and_label(image, label=None, scale=1.0):
  """Scales image (bilinear) and label (nearest) by `scale`, align corners."""
  shape = tf.shape(image)
  # At least one pixel: a tiny image scaled down must not vanish (the
  # original stops with "output dimensions must be positive" there).
  new_dim = tf.maximum(
      tf.cast(tf.cast(shape[:2], tf.float32) * scale, tf.int32), 1)

  def scaled():
    img = _resize(image, new_dim, 'bilinear')
    lab = _resize(label, new_dim, 'nearest') if label is not None else None
    return (img, lab) if label is not None else img

  if isinstance(scale, (int, float)) and scale == 1.0:
    return image, label
  if label is None:
    return tf.cond(tf.equal(scale, 1.0), lambda: image, scaled), None
  return tf.cond(tf.equal(scale, 1.0), lambda: (image, label), scaled)


def pad_to_bounding_box(image, offset_height, offset_width, target_height,
                        target_width, pad_value):
  """Pads with `pad_value` (per channel) instead of zeros."""
  pad_value = tf.cast(pad_value, image.dtype)
  padded = tf.image.pad_to_bounding_box(image - pad_value, offset_height,
                                        offset_width, target_height,
                                        target_width)
  return padded + pad_value


def random_crop(image, label, crop_height, crop_width, seed=None):
  """The same random crop of image and label.

  Raises:
    InvalidArgumentError: When image and label differ in height or width, or
      the crop is larger than them (as the original's `random_crop`).
  """
  shape = tf.shape(image)
  if label is not None:
    label_shape = tf.shape(label)
    tf.debugging.assert_equal(
        shape[:2], label_shape[:2],
        message='random_crop: image and label sizes differ')
  tf.debugging.assert_greater_equal(
      shape[:2], tf.constant([crop_height, crop_width], shape.dtype),
      message='random_crop: the crop is larger than the image')
  max_h = shape[0] - crop_height + 1
  max_w = shape[1] - crop_width + 1
  offset_h = _uniform([], 0, max_h, tf.int32, _sub_seed(seed, 0))
  offset_w = _uniform([], 0, max_w, tf.int32, _sub_seed(seed, 1))
  image = image[offset_h:offset_h + crop_height,
                offset_w:offset_w + crop_width]
  label = label[offset_h:offset_h + crop_height,
                offset_w:offset_w + crop_width]
  return image, label


def random_flip(image, label, seed=None):
  """Flips image and label left-right with probability 0.5."""
  flip = _uniform([], 0., 1., tf.float32, seed) < _PROB_OF_FLIP
  image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
  if label is not None:
    label = tf.cond(flip, lambda: tf.reverse(label, [1]), lambda: label)
  return image, label


def preprocess_image_and_label(image, label, crop_height, crop_width,
                               min_resize_value=None, max_resize_value=None,
                               resize_factor=None, min_scale_factor=1.,
                               max_scale_factor=1., scale_factor_step_size=0,
                               ignore_label=255, is_training=True,
                               model_variant=None, keep_aspect_ratio=True,
                               seed=None, image_name='',
                               crop_flag='eval_crop_size'):
  """The original's `preprocess_image_and_label`.

  `seed`, a stateless seed (shape [2] int tensor), makes the random scale,
  crop and flip a function of it; None draws them statefully as the
  original does. `image_name` and `crop_flag` name the image and the flag
  when an evaluation image is larger than the crop.

  Returns:
    (original_image, processed_image float32 [crop_h, crop_w, 3],
     label int32 [crop_h, crop_w, 1] or None).

  Raises:
    ValueError: If training without a label.
  """
  if is_training and label is None:
    raise ValueError('During training, label must be provided.')
  original_image = image
  processed = tf.cast(image, tf.float32)
  if label is not None:
    label = tf.cast(label, tf.int32)
  if min_resize_value or max_resize_value:
    processed, label = resize_to_range(processed, label, min_resize_value,
                                       max_resize_value, resize_factor,
                                       keep_aspect_ratio)
    original_image = tf.identity(processed)
  if is_training:
    scale = get_random_scale(min_scale_factor, max_scale_factor,
                             scale_factor_step_size, _sub_seed(seed, 10))
    processed, label = randomly_scale_image_and_label(processed, label, scale)
  shape = tf.shape(processed)
  if not is_training:
    # The original evaluation pads, it never crops: say so clearly.
    fits = tf.debugging.Assert(
        tf.reduce_all(shape[:2] <= tf.constant([crop_height, crop_width])),
        ['Image larger than the evaluation crop size (the original pads, '
         'never crops); set --%s to at least the largest image (plus one). '
         'Image' % crop_flag, image_name, 'is', shape[:2], 'crop',
         tf.constant([crop_height, crop_width])], name='fits_crop')
    with tf.control_dependencies([fits]):
      processed = tf.identity(processed)
  target_height = shape[0] + tf.maximum(crop_height - shape[0], 0)
  target_width = shape[1] + tf.maximum(crop_width - shape[1], 0)
  mean = tf.reshape(feature_extractor.mean_pixel(model_variant), [1, 1, 3])
  processed = pad_to_bounding_box(processed, 0, 0, target_height,
                                  target_width, mean)
  if label is not None:
    label = pad_to_bounding_box(label, 0, 0, target_height, target_width,
                                ignore_label)
  if is_training and label is not None:
    processed, label = random_crop(processed, label, crop_height, crop_width,
                                   _sub_seed(seed, 20))
  processed = tf.ensure_shape(processed, [crop_height, crop_width, 3])
  if label is not None:
    label = tf.ensure_shape(label, [crop_height, crop_width, 1])
  if is_training:
    processed, label = random_flip(processed, label, _sub_seed(seed, 30))
  return original_image, processed, label
