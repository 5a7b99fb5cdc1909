"""`Segmenter`: a model with what segmenting an image takes.

What `deeplab.from_preset` returns: the inference model, its class names and
colours, and the evaluation crop; `segment` takes pixels as they are, any
size, and checks their shape (`check_images`).
"""
from absl import logging
import numpy as np

from deeplab import inference


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
    """Labels of images by the original's evaluation path.

    Each image runs whole, or in tiles where its whole-image inference
    would not fit the memory budget (`plan`; the model's inference options
    `tile_size` and `memory_budget_mb` choose).

    Args:
      images: RGB pixels 0..255 (uint8), [H, W, 3] or a batch
        [B, H, W, 3] of one size; any size.
      crop_size: The minimum padded size (default: `eval_crop_size`, else
        the image's).

    Returns:
      int32 labels [H, W] (or [B, H, W]) at the input size.

    Raises:
      ValueError: naming the shape or the pixel range it needs.
    """
    batch = check_images(images)
    single = batch.ndim == 3
    if single:
      batch = batch[None]
    crop = crop_size or self.eval_crop_size
    variant = self.model_options.model_variant
    how = inference.plan(self.model, batch.shape[1:3])
    if how.tiled:
      logging.info('Segmenting %dx%d %s.', how.image_hw[0], how.image_hw[1],
                   how.describe(python=True))
      runner = inference.tile_runner(self.model)
      labels = np.stack([
          inference.segment_image(self.model, image, variant, crop,
                                  runner=runner, how=how)
          for image in batch]).astype(np.int32)
    else:
      labels = inference.segment(self.model, batch, variant,
                                 crop)['predictions']
      labels = labels.numpy()
    return labels[0] if single else labels


def check_images(images):
  """`images` as an array of RGB pixels [H, W, 3] or [B, H, W, 3], or a
  ValueError naming the shape or range `Segmenter.segment` needs."""
  batch = np.asarray(images)
  shape = tuple(batch.shape)
  if batch.ndim == 2:
    raise ValueError(
        'segment takes RGB images [H, W, 3] or a batch [B, H, W, 3]; got '
        'shape %s, a grey image: give it three channels, '
        'np.stack([image] * 3, axis=-1).' % (shape,))
  if batch.ndim not in (3, 4) or shape[-1] != 3:
    hint = ''
    if batch.ndim in (3, 4) and shape[-1] == 4:
      hint = ' (RGBA: drop the alpha channel, image[..., :3])'
    elif batch.ndim in (3, 4) and shape[-1] == 1:
      hint = ' (one channel: np.repeat(image, 3, axis=-1))'
    raise ValueError('segment takes RGB images [H, W, 3] or a batch '
                     '[B, H, W, 3]; got shape %s%s.' % (shape, hint))
  if min(shape[-3:-1]) == 0:
    raise ValueError('segment got an empty image (shape %s): nothing to '
                     'segment.' % (shape,))
  if batch.dtype.kind not in 'uif' or batch.dtype.kind == 'b':
    raise ValueError('segment takes pixels 0..255 (uint8); got dtype %s.'
                     % batch.dtype)
  if batch.dtype.kind == 'f' and batch.size and float(batch.max()) <= 1.0 and (
      float(batch.max()) > 0):
    raise ValueError('segment takes pixels 0..255 (uint8); got floats in '
                     '[0, 1]: multiply by 255 (np.uint8(image * 255)).')
  return batch
