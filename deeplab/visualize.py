"""Visualising predictions: the original vis.py's outputs and more.

For a TFRecord split it writes, as the original:
  <vis_logdir>/segmentation_results/%06d_image.png       the input image
  <vis_logdir>/segmentation_results/%06d_prediction.png  colour-mapped labels
  <vis_logdir>/raw_segmentation_results/<image name>.png raw labels
    (with --also_save_raw_predictions; Cityscapes train ids mapped back to
    label ids for the official evaluation)
and, beyond it, `%06d_overlay.png` (image blended with the colours) and the
same outputs for plain image files, a folder or a glob (no TFRecords),
named after the input files (`photo_prediction.png`).

As the original, one iteration is one pass over the whole split with one
checkpoint; `run` polls the checkpoint folder for new checkpoints and
visualises each, `max_number_of_iterations` times (forever when it is not
positive), overwriting the same files.

Predictions are cropped to the (resized) image and, when min/max resize was
used, resized back to the original size with nearest neighbour, as the
original does.
"""
import os

import numpy as np
import tensorflow as tf
from absl import logging

from deeplab import checkpoint_state
from deeplab import checkpoints
from deeplab import colormaps
from deeplab import files
from deeplab import imageio
from deeplab import inference
from deeplab import progress as progress_lib
from deeplab import runtime
from deeplab.data import data_generator
from deeplab.data import datasets

SEMANTIC_FOLDER = 'segmentation_results'
RAW_FOLDER = 'raw_segmentation_results'

# Cityscapes train id -> label id (for the official evaluation scripts).
CITYSCAPES_TRAIN_ID_TO_EVAL_ID = np.array(
    [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32,
     33], np.int64)


def write_outputs(index, image, prediction, config, colormap, image_name=None,
                  ignore_label=None, stem=None):
  """Writes the image, the colour prediction, the overlay and raw labels,
  named `%06d_*.png` by index as the original's vis.py, or `<stem>_*.png`
  after the input file when `stem` is given."""
  folder = os.path.join(config.vis_logdir, SEMANTIC_FOLDER)
  base = stem if stem is not None else '%06d' % index
  files.save_png(image, os.path.join(folder, base + '_image.png'))
  files.save_png(colormaps.label_to_color_image(prediction, colormap),
                 os.path.join(folder, base + '_prediction.png'))
  if config.save_overlays:
    files.save_png(colormaps.overlay(image, prediction, colormap,
                                     config.overlay_alpha, ignore_label),
                   os.path.join(folder, base + '_overlay.png'))
  if config.also_save_raw_predictions:
    raw = prediction
    if config.dataset == 'cityscapes':
      raw = CITYSCAPES_TRAIN_ID_TO_EVAL_ID[prediction]
    name = os.path.splitext(os.path.basename(image_name or
                                             base + '_image'))[0]
    files.save_png(raw.astype(np.uint8 if raw.max() < 256 else np.uint16),
                   os.path.join(config.vis_logdir, RAW_FOLDER, name + '.png'))


def _prepare(config):
  for sub in (SEMANTIC_FOLDER, RAW_FOLDER):
    if sub == RAW_FOLDER and not config.also_save_raw_predictions:
      continue
    os.makedirs(os.path.join(config.vis_logdir, sub), exist_ok=True)


def _load_model(config, options, checkpoint):
  if config.inference.tile_size:  # Tiles and crops of any size.
    options = options.replace(crop_size=None)
  return runtime.load(options, checkpoint, config.inference)[0]


def visualize_split(config, options, checkpoint=None):
  """One pass of the original's vis.py over a TFRecord split.

  Args:
    config: `configs.VisConfig`.
    options: `ModelOptions` (classes and crop are set from the data/config).
    checkpoint: The checkpoint to run (default: the latest in
      `config.checkpoint_dir`).

  Returns:
    The number of images written.
  """
  config.validate()
  dataset = data_generator.Dataset.from_config(
      config, config.vis_split, config.vis_crop_size, config.vis_batch_size,
      options.model_variant, crop_flag='vis_crop_size')
  checkpoints.check_num_classes(checkpoint or config.checkpoint_dir,
                                dataset.num_classes, config.dataset)
  options = options.for_data(dataset.num_classes, config.vis_crop_size)
  model = _load_model(config, options, checkpoint or config.checkpoint_dir)
  colormap = config.colormap_type or datasets.colormap_for(
      config.dataset, config.dataset_dir)
  _prepare(config)
  predict_fn = inference.batch_predictor(model, options.model_variant)
  index = 0
  predicted = set()
  resize = config.resize.active
  for batch in dataset:
    predictions = predict_fn(batch['image'])
    for i in range(predictions.shape[0]):
      if config.max_images and index >= config.max_images:
        break
      height, width = int(batch['height'][i]), int(batch['width'][i])
      name = batch['image_name'][i].numpy().decode('utf-8', 'replace')
      image = batch['original_image'][i].numpy() if (
          'original_image' in batch) else None
      resized_hw = image.shape[:2] if image is not None else (height, width)
      prediction = inference.restore_size(predictions[i], resized_hw,
                                          (height, width))
      if image is None or resize:
        image = _decoded_original(batch, i, height, width)
      write_outputs(index, image, prediction, config, colormap, name,
                    dataset.ignore_label)
      if len(predicted) < 2:
        predicted.update(np.unique(prediction).tolist())
      index += 1
    if config.max_images and index >= config.max_images:
      break
  if len(predicted) == 1 and index > 1:
    logging.warning('Every pixel of the %d images was predicted as class '
                    '%d.%s', index, predicted.pop(),
                    checkpoints.DEGENERATE_ADVICE)
  return index


def _decoded_original(batch, i, height, width):
  """The image at its original size (batched eval crops are padded)."""
  image = batch['image'][i].numpy()
  if 'original_image' in batch:
    image = batch['original_image'][i].numpy()
  if image.shape[:2] != (height, width):
    image = tf.image.resize(image, (height, width), method='bilinear').numpy()
  return np.clip(np.round(image), 0, 255).astype(np.uint8)


def visualize_images(config, options):
  """Visualises plain image files (no TFRecords). Returns the image count.

  Each image is resized to range when asked and padded to the crop with the
  mean pixel (larger images get a crop of their own size), exactly as the
  evaluation does (`inference.segment`).
  """
  config.validate()
  paths = imageio.list_images(config.image_path)
  if config.max_images:
    paths = paths[:config.max_images]
  options = options.for_data(config.num_classes, crop_size=None)
  model = _load_model(config, options, config.checkpoint_dir)
  colormap = config.colormap_type or datasets.colormap_for(
      config.dataset, config.dataset_dir)
  _prepare(config)
  stems = imageio.output_stems(paths)
  runner = inference.tile_runner(model)
  progress = progress_lib.Progress(len(paths), 'visualizing')
  for index, path in enumerate(paths):
    image = imageio.read_image(path, config.allow_large_images)
    prediction = inference.segment_image(
        model, image, options.model_variant, config.vis_crop_size,
        config.resize, runner=runner, label=path)
    write_outputs(index, image, prediction, config, colormap, path,
                  stem=stems[index])
    progress.update(index + 1)
  return len(paths)


def run(config, options):
  """The original's vis.py: one pass per checkpoint, polling for new ones.

  Plain images (`image_path`) are visualised once with the latest
  checkpoint.

  Returns:
    The number of images written in the last pass.
  """
  config.validate()
  if config.image_path:
    return visualize_images(config, checkpoint_state.resolve_options(options))

  def visualize(checkpoint):
    # Beside a training job, the options exist once its first checkpoint
    # does.
    logging.info('Visualizing with %s', checkpoint)
    return visualize_split(config, checkpoint_state.resolve_options(options),
                           checkpoint)

  counts = checkpoint_state.for_each_checkpoint(
      config.checkpoint_dir, visualize, config.max_number_of_iterations,
      config.eval_interval_secs, '--max_number_of_iterations',
      finished=checkpoint_state.run_finished)
  return counts[-1] if counts else 0
