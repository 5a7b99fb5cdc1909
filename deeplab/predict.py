"""Segmenting image files with a checkpoint: the `deeplab-predict` job.

`run(config, options)` segments one image (the original's evaluation path,
with the logits for `--output_npz`) or every image of a folder or a glob
(one model, outputs named after the inputs), and writes the outputs asked
for: colour predictions, label ids, overlays. A run folder brings its
dataset's class names and colours (`rundir.classes_of`).
"""
import os

import numpy as np
from PIL import Image

from deeplab import colormaps
from deeplab import files
from deeplab import imageio
from deeplab import inference
from deeplab import progress as progress_lib
from deeplab import rundir
from deeplab import runtime


# Said once when the checkpoint brings no class names.
UNKNOWN_NAMES = ('classes are shown by id: the checkpoint brings no class '
                 'names (a training run or a model-zoo import does)')


def save_outputs(result, output_npz=None, output_png=None, colormap='pascal',
                 output_label_png=None):
  """Writes the npz, the colour PNG and/or the label-id PNG (atomically)."""
  if output_npz:
    def write_npz(tmp):
      with open(tmp, 'wb') as f:
        np.savez(f, **result)
    files.write_atomically(output_npz, write_npz)
  if output_png:
    colored = colormaps.label_to_color_image(result['predictions'], colormap)
    files.write_atomically(output_png, lambda tmp: Image.fromarray(colored).save(
        tmp, format='PNG'))
  if output_label_png:
    labels = result['predictions']
    labels = labels.astype(np.uint8 if labels.max() < 256 else np.uint16)
    files.write_atomically(output_label_png, lambda tmp: Image.fromarray(
        labels).save(tmp, format='PNG'))


def describe(path, labels, class_names=None):
  """'photo.jpg: 480x640, classes background (70.1%), cat (29.9%)'."""
  labels = np.asarray(labels)
  counts = np.zeros(0, np.int64)
  # Row bands: bincount widens its input to int64 (8 bytes a pixel).
  for top in range(0, labels.shape[0], 1024):
    band = np.bincount(labels[top:top + 1024].ravel())
    counts = np.pad(counts, (0, max(0, len(band) - len(counts))))
    counts[:len(band)] += band
  ids = np.flatnonzero(counts)
  counts = counts[ids]

  def name(i):
    return (class_names[i] if class_names and i < len(class_names)
            else str(i))

  return '%s: %dx%d, classes %s' % (
      path, labels.shape[0], labels.shape[1],
      ', '.join('%s (%.1f%%)' % (name(int(l)), 100.0 * c / labels.size)
                for l, c in zip(ids, counts)))


def run(config, options):
  """Segments `config.image` (or every image of a folder or glob) and
  writes the outputs asked for.

  Returns:
    Lines describing the result.
  """
  config.validate()
  class_names, run_colormap = rundir.classes_of(config.checkpoint)
  colormap = config.colormap or run_colormap
  if config.several_images or config.output_dir:
    return _run_many(config, options, class_names, colormap)
  image = imageio.read_image(config.image, config.allow_large_images)
  result, how = inference.predict_image(image, options, config.checkpoint,
                                        inference_options=config.inference,
                                        label=config.image, with_plan=True)
  save_outputs(result, config.output_npz, config.output_png, colormap,
               config.output_label_png)
  lines = [describe(config.image, result['predictions'], class_names),
           'segmented %s' % how.describe()]
  if class_names is None:
    lines.append(UNKNOWN_NAMES)
  for path in (config.output_npz, config.output_png, config.output_label_png):
    if path:
      lines.append('wrote %s' % path)
  return lines


def _run_many(config, options, class_names, colormap):
  """One model, every image: outputs named after the inputs."""
  paths = imageio.list_images(config.image, '--image')
  stems = imageio.output_stems(paths)
  model, _ = runtime.load(options.replace(crop_size=None), config.checkpoint,
                          config.inference)
  runner = inference.tile_runner(model)
  progress = progress_lib.Progress(len(paths), 'predicting')
  lines = []
  tiled = []
  for index, (path, stem) in enumerate(zip(paths, stems)):
    image = imageio.read_image(path, config.allow_large_images)
    how = inference.plan(model, image.shape[:2])
    if how.tiled:
      tiled.append((path, how))
    labels = inference.segment_image(model, image, options.model_variant,
                                     config.eval_crop_size, runner=runner,
                                     label=path, how=how)
    base = os.path.join(config.output_dir, stem)
    save_outputs({'predictions': labels}, output_png=base + '_prediction.png',
                 colormap=colormap, output_label_png=base + '_labels.png')
    files.save_png(colormaps.overlay(image, labels, colormap),
                   base + '_overlay.png')
    lines.append(describe(path, labels, class_names))
    progress.update(index + 1)
  if tiled:
    path, how = tiled[-1]
    which = ('every image' if len(tiled) == len(paths) else
             '%d of %d images (the others whole)' % (len(tiled), len(paths)))
    lines.append('segmented %s in tiles; %s: %s' % (which, path,
                                                     how.describe()))
  else:
    lines.append('segmented every image whole')
  if class_names is None:
    lines.append(UNKNOWN_NAMES)
  lines.append('wrote the predictions of %d image%s to %s' % (
      len(paths), '' if len(paths) == 1 else 's', config.output_dir))
  return lines
