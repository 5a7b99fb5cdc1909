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

import numpy as np
from PIL import Image
import tensorflow as tf

from deeplab import runtime
from deeplab.core import feature_extractor
from deeplab.core import layers
from deeplab.data import input_preprocess

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')


def read_image(path):
  """RGB uint8 [H, W, 3] of an image file, naming the file on any error.

  Grayscale, palette, RGBA, CMYK and 16-bit images are converted to 8-bit RGB
  (alpha dropped).
  """
  if not os.path.exists(path):
    raise FileNotFoundError('Image %s does not exist.' % path)
  try:
    with Image.open(path) as img:
      img.load()
      if img.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
        arr = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if arr.max() > 255 else 255.0
        arr = np.clip(arr / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.stack([arr] * 3, axis=-1)
      return np.asarray(img.convert('RGB'), dtype=np.uint8)
  except (OSError, SyntaxError, ValueError) as e:
    raise ValueError('Cannot read image %s: %s' % (path, e)) from e


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


def predict_image(image, options, checkpoint=None, model=None,
                  inference=None):
  """Runs the original's evaluation on one image (no resizing).

  Args:
    image: uint8 [H, W, 3].
    options: `ModelOptions`; its crop size is the evaluation crop (None: the
      image size).
    checkpoint: Checkpoint to load (unless `model` is given).
    model: An inference model already built for `options` (with weights).
    inference: `common.InferenceOptions` of the model to load (default: the
      defaults).

  Returns:
    dict with 'logits' (merged logits of the unflipped scale-1.0 pass at the
    model's output resolution, float32 [1, h, w, C]), 'predictions' (int32
    [H, W]) and, with several passes, 'probabilities' (float32
    [1, Hc, Wc, C], the mean of the per-pass softmaxes at crop resolution).
  """
  h, w = image.shape[:2]
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
