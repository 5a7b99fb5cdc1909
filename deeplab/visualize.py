"""Visualising predictions: the original vis.py's outputs and more.

For a TFRecord split it writes, as the original:
  <vis_logdir>/segmentation_results/%06d_image.png       the input image
  <vis_logdir>/segmentation_results/%06d_prediction.png  colour-mapped labels
  <vis_logdir>/raw_segmentation_results/<image name>.png raw labels
    (with --also_save_raw_predictions; Cityscapes train ids mapped back to
    label ids for the official evaluation)
and, beyond it, `%06d_overlay.png` (image blended with the colours) and the
same outputs for plain image files or a folder (no TFRecords).

Predictions are cropped to the (resized) image and, when min/max resize was
used, resized back to the original size with nearest neighbour, as the
original does.
"""
import dataclasses
import glob
import os
from typing import Optional, Tuple

import numpy as np
from PIL import Image
import tensorflow as tf
from absl import logging

from deeplab import checkpoints
from deeplab import colormaps
from deeplab import common
from deeplab import model as model_lib
from deeplab import predict
from deeplab.data import data_generator
from deeplab.data import input_preprocess

SEMANTIC_FOLDER = 'segmentation_results'
RAW_FOLDER = 'raw_segmentation_results'
IMAGE_FORMAT = '%06d_image'
PREDICTION_FORMAT = '%06d_prediction'
OVERLAY_FORMAT = '%06d_overlay'

# Cityscapes train id -> label id (for the official evaluation scripts).
CITYSCAPES_TRAIN_ID_TO_EVAL_ID = np.array(
    [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32,
     33], np.int64)


@dataclasses.dataclass
class VisConfig:
  """The original vis.py flags, plus overlays and plain-image input."""
  checkpoint_dir: Optional[str] = None
  vis_logdir: Optional[str] = None
  dataset: str = 'pascal_voc_seg'
  dataset_dir: Optional[str] = None
  vis_split: str = 'val'
  vis_batch_size: int = 1
  vis_crop_size: Tuple[int, int] = (513, 513)
  eval_scales: Tuple[float, ...] = (1.0,)
  add_flipped_images: bool = False
  colormap_type: Optional[str] = None
  also_save_raw_predictions: bool = False
  max_number_of_iterations: int = 0
  min_resize_value: Optional[int] = None
  max_resize_value: Optional[int] = None
  resize_factor: Optional[int] = None
  keep_aspect_ratio: bool = True
  save_overlays: bool = True
  overlay_alpha: float = 0.5
  image_path: Optional[str] = None
  num_classes: Optional[int] = None
  fold_batch_norm: bool = True
  dilated_depthwise: str = 'auto'

  def validate(self):
    if not self.checkpoint_dir:
      raise ValueError('--checkpoint_dir is required.')
    if not self.vis_logdir:
      raise ValueError('--vis_logdir is required.')
    self.vis_crop_size = common.parse_crop_size(self.vis_crop_size,
                                                'vis_crop_size')
    if self.colormap_type and self.colormap_type not in colormaps.COLORMAPS:
      raise ValueError('--colormap_type must be one of %s, got %r.' % (
          ', '.join(sorted(colormaps.COLORMAPS)), self.colormap_type))
    if not 0 <= self.overlay_alpha <= 1:
      raise ValueError('--overlay_alpha must be in [0, 1].')
    return self


def save_png(array, path):
  """Writes a PNG atomically (a killed run leaves no half-written file)."""
  tmp = os.path.join(os.path.dirname(path),
                     '.%s.tmp' % os.path.basename(path))
  Image.fromarray(np.asarray(array)).save(tmp, format='PNG')
  os.replace(tmp, path)


def restore_size(prediction, resized_hw, original_hw):
  """Crops the padding and undoes resize-to-range (nearest, align corners)."""
  prediction = prediction[:resized_hw[0], :resized_hw[1]]
  if tuple(resized_hw) != tuple(original_hw):
    prediction = tf.compat.v1.image.resize_nearest_neighbor(
        prediction[None, :, :, None], original_hw, align_corners=True)[
            0, :, :, 0].numpy()
  return prediction


def write_outputs(index, image, prediction, config, colormap, image_name=None,
                  ignore_label=None):
  """Writes the image, the colour prediction, the overlay and raw labels."""
  folder = os.path.join(config.vis_logdir, SEMANTIC_FOLDER)
  save_png(image, os.path.join(folder, IMAGE_FORMAT % index + '.png'))
  save_png(colormaps.label_to_color_image(prediction, colormap),
           os.path.join(folder, PREDICTION_FORMAT % index + '.png'))
  if config.save_overlays:
    save_png(colormaps.overlay(image, prediction, colormap,
                               config.overlay_alpha, ignore_label),
             os.path.join(folder, OVERLAY_FORMAT % index + '.png'))
  if config.also_save_raw_predictions:
    raw = prediction
    if config.dataset == 'cityscapes':
      raw = CITYSCAPES_TRAIN_ID_TO_EVAL_ID[prediction]
    name = os.path.splitext(os.path.basename(image_name or
                                             IMAGE_FORMAT % index))[0]
    save_png(raw.astype(np.uint8 if raw.max() < 256 else np.uint16),
             os.path.join(config.vis_logdir, RAW_FOLDER, name + '.png'))


def _prepare(config):
  for sub in (SEMANTIC_FOLDER, RAW_FOLDER):
    if sub == RAW_FOLDER and not config.also_save_raw_predictions:
      continue
    os.makedirs(os.path.join(config.vis_logdir, sub), exist_ok=True)


def _load_model(config, options):
  """The inference model of `options` with the checkpoint's weights (folded
  unless `config.fold_batch_norm` is off)."""
  model = model_lib.build_inference_model(options, config.eval_scales,
                                          config.add_flipped_images)
  model, report = checkpoints.load_inference_model(
      model, config.checkpoint_dir, fold_batch_norm=config.fold_batch_norm,
      dilated_depthwise=config.dilated_depthwise)
  logging.info('%s', report.summary())
  return model


def visualize_split(config, options):
  """The original's vis.py on a TFRecord split. Returns the image count."""
  config.validate()
  dataset = data_generator.Dataset(
      dataset_name=config.dataset, split_name=config.vis_split,
      dataset_dir=config.dataset_dir, batch_size=config.vis_batch_size,
      crop_size=config.vis_crop_size,
      min_resize_value=config.min_resize_value,
      max_resize_value=config.max_resize_value,
      resize_factor=config.resize_factor,
      keep_aspect_ratio=config.keep_aspect_ratio,
      model_variant=options.model_variant, is_training=False)
  num_classes = dataset.num_classes or options.num_classes
  options = options.replace(
      outputs_to_num_classes={common.OUTPUT_TYPE: num_classes},
      crop_size=config.vis_crop_size)
  model = _load_model(config, options)
  colormap = config.colormap_type or colormaps.default_for(config.dataset)
  _prepare(config)
  predict_fn = tf.function(lambda x: model(x, training=False)['predictions'])
  index = 0
  resize = config.min_resize_value or config.max_resize_value
  for batch in dataset:
    predictions = predict_fn(batch['image']).numpy()
    for i in range(predictions.shape[0]):
      height, width = int(batch['height'][i]), int(batch['width'][i])
      name = batch['image_name'][i].numpy().decode('utf-8', 'replace')
      image = batch['original_image'][i].numpy() if (
          'original_image' in batch) else None
      resized_hw = image.shape[:2] if image is not None else (height, width)
      prediction = restore_size(predictions[i], resized_hw, (height, width))
      if image is None or resize:
        image = _decoded_original(batch, i, height, width)
      write_outputs(index, image, prediction, config, colormap, name,
                    dataset.ignore_label)
      index += 1
    if config.max_number_of_iterations and index >= (
        config.max_number_of_iterations * config.vis_batch_size):
      break
  logging.info('Wrote %d visualisations to %s.', index, config.vis_logdir)
  return index


def _decoded_original(batch, i, height, width):
  """The image at its original size (batched eval crops are padded)."""
  image = batch['image'][i].numpy()
  if 'original_image' in batch:
    image = batch['original_image'][i].numpy()
  if image.shape[:2] != (height, width):
    image = tf.image.resize(image, (height, width), method='bilinear').numpy()
  return np.clip(np.round(image), 0, 255).astype(np.uint8)


def list_images(path):
  """Image files of a file, a folder or a glob pattern (sorted)."""
  if os.path.isdir(path):
    files = [os.path.join(path, f) for f in sorted(os.listdir(path))
             if f.lower().endswith(('.png', '.jpg', '.jpeg', '.bmp'))]
  elif any(c in path for c in '*?['):
    files = sorted(glob.glob(path))
  else:
    files = [path] if os.path.exists(path) else []
  if not files:
    raise FileNotFoundError('No images found at --image_path=%s.' % path)
  return files


def visualize_images(config, options):
  """Visualises plain image files (no TFRecords). Returns the image count.

  Each image is resized to range when asked and padded to the crop with the
  mean pixel (larger images get a crop of their own size), exactly as the
  evaluation does.
  """
  config.validate()
  files = list_images(config.image_path)
  num_classes = config.num_classes or options.num_classes
  base = options.replace(
      outputs_to_num_classes={common.OUTPUT_TYPE: num_classes},
      crop_size=None)
  model = _load_model(config, base)
  colormap = config.colormap_type or colormaps.default_for(config.dataset)
  _prepare(config)
  for index, path in enumerate(files):
    image = predict.read_image(path)
    processed = tf.constant(image, tf.float32)
    if config.min_resize_value or config.max_resize_value:
      processed, _ = input_preprocess.resize_to_range(
          processed, None, config.min_resize_value, config.max_resize_value,
          config.resize_factor, config.keep_aspect_ratio)
    resized_hw = tuple(processed.shape[:2])
    crop = (max(config.vis_crop_size[0], resized_hw[0]),
            max(config.vis_crop_size[1], resized_hw[1]))
    padded = predict.pad_to_crop(processed.numpy(), crop,
                                 options.model_variant)
    prediction = model(padded[None], training=False)['predictions'][0].numpy()
    prediction = restore_size(prediction, resized_hw, image.shape[:2])
    write_outputs(index, image, prediction, config, colormap, path)
  logging.info('Wrote %d visualisations to %s.', len(files), config.vis_logdir)
  return len(files)
