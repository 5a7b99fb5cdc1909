r"""Segments images with an original or a project checkpoint.

  deeplab-predict --checkpoint=<TF1 prefix, directory or project
      checkpoint> --image=photo.jpg [--output_npz=out.npz]
      [--output_png=colours.png] [--output_label_png=ids.png] [model flags]
      [--eval_crop_size=513,513]
      [--eval_scales=0.5 --eval_scales=1.0 ...] [--add_flipped_images]
  deeplab-predict --checkpoint=runs/leaves --image=photos/ (or 'photos/*.jpg')
      --output_dir=predictions/

For a folder or a glob, each image gets <name>_prediction.png (colours),
<name>_labels.png (label ids) and <name>_overlay.png in --output_dir, named
after the input. A training logdir or a model-zoo folder brings its
dataset: the printed classes are its class names and the colours its
colour map.

With `--eval_crop_size` it follows the original's evaluation path exactly: the
image is padded bottom/right to the crop with the variant's mean pixel, run,
the logits upsampled (align corners) to the crop, arg-maxed and cropped back
to the image. Without it, the image itself is the crop.

The npz holds `logits` (merged logits of the unflipped scale-1.0 pass at the
model's output resolution, float32 [1, h, w, C]), `predictions` (int32
[H, W], the image's own size) and, with several scales or flips,
`probabilities` (float32 [1, Hc, Wc, C], the mean of the per-pass softmaxes
at crop resolution, as the original's multi-scale evaluation averages).

A project checkpoint (written by `deeplab.convert_checkpoint`) carries its
model options; flags given explicitly override them.
"""
import dataclasses
import os
from typing import Optional, Tuple

import numpy as np
from PIL import Image

from deeplab import colormaps
from deeplab import command
from deeplab import common
from deeplab import files
from deeplab import flags as deeplab_flags
from deeplab import inference


@dataclasses.dataclass
class PredictConfig:
  """The prediction tool's flags."""
  checkpoint: Optional[str] = None
  image: Optional[str] = None
  output_dir: Optional[str] = None
  output_npz: Optional[str] = None
  output_png: Optional[str] = None
  output_label_png: Optional[str] = None
  num_classes: Optional[int] = None
  eval_crop_size: Optional[Tuple[int, int]] = None
  colormap: Optional[str] = None
  allow_large_images: bool = False
  inference: common.InferenceOptions = dataclasses.field(
      default_factory=common.InferenceOptions)

  def validate(self):
    if not self.checkpoint or not self.image:
      raise ValueError('--checkpoint and --image are required.')
    if self.eval_crop_size:
      self.eval_crop_size = common.parse_crop_size(self.eval_crop_size,
                                                   'eval_crop_size')
    single = [f for f in ('output_npz', 'output_png', 'output_label_png')
              if getattr(self, f)]
    if self.several_images:
      if not self.output_dir:
        raise ValueError('--image=%s is %s: give --output_dir=DIR for one '
                         'output per image (or vis.py --image_path).' % (
                             self.image, 'a folder' if os.path.isdir(
                                 self.image) else 'a glob'))
      if single:
        raise ValueError('--%s writes one image\'s result; with several '
                         'images use --output_dir.' % single[0])
    elif self.output_dir and single:
      raise ValueError('--output_dir and --%s both say where to write: give '
                       'one.' % single[0])
    return self

  @property
  def several_images(self):
    return os.path.isdir(self.image) or any(c in self.image for c in '*?[')


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


def run_dataset(checkpoint):
  """(class names or None, colour map) of the dataset a checkpoint's run
  was trained or published on (pascal's colours when unknown)."""
  from deeplab.data import datasets  # pylint: disable=g-import-not-at-top
  dataset, dataset_dir = deeplab_flags.run_dataset(checkpoint)
  if not dataset:
    return None, 'pascal'
  try:
    descriptor = datasets.get_dataset(dataset, dataset_dir)
  except (ValueError, FileNotFoundError):
    return None, 'pascal'
  return descriptor.class_names, datasets.colormap_for(dataset, dataset_dir)


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
  class_names, run_colormap = run_dataset(config.checkpoint)
  colormap = config.colormap or run_colormap
  if config.several_images or config.output_dir:
    return _run_many(config, options, class_names, colormap)
  image = inference.read_image(config.image, config.allow_large_images)
  result = inference.predict_image(image, options, config.checkpoint,
                                   inference=config.inference,
                                   label=config.image)
  save_outputs(result, config.output_npz, config.output_png, colormap,
               config.output_label_png)
  lines = [describe(config.image, result['predictions'], class_names)]
  for path in (config.output_npz, config.output_png, config.output_label_png):
    if path:
      lines.append('wrote %s' % path)
  return lines


def _run_many(config, options, class_names, colormap):
  """One model, every image: outputs named after the inputs."""
  from deeplab import runtime  # pylint: disable=g-import-not-at-top
  from deeplab.datasets import build_data  # pylint: disable=g-import-not-at-top
  paths = inference.list_images(config.image, '--image')
  stems = inference.output_stems(paths)
  model, _ = runtime.load(options.replace(crop_size=None), config.checkpoint,
                          config.inference)
  runner = inference.tile_runner(model)
  progress = build_data.Progress(len(paths), 'predicting')
  lines = []
  for index, (path, stem) in enumerate(zip(paths, stems)):
    image = inference.read_image(path, config.allow_large_images)
    labels = inference.segment_image(model, image, options.model_variant,
                                     config.eval_crop_size, runner=runner,
                                     label=path)
    base = os.path.join(config.output_dir, stem)
    save_outputs({'predictions': labels}, output_png=base + '_prediction.png',
                 colormap=colormap, output_label_png=base + '_labels.png')
    files.save_png(colormaps.overlay(image, labels, colormap),
                   base + '_overlay.png')
    lines.append(describe(path, labels, class_names))
    progress.update(index + 1)
  lines.append('wrote %d images\' predictions to %s' % (len(paths),
                                                      config.output_dir))
  return lines


GROUPS = [
    deeplab_flags.FlagGroup('Prediction', deeplab_flags.PREDICT_FLAGS,
                            PredictConfig),
    deeplab_flags.model_group(output_stride=16),
    deeplab_flags.inference_group(PredictConfig),
]


def _job(fv):
  deeplab_flags.apply_run_defaults(fv, fv.checkpoint)
  config = deeplab_flags.config_from_flags(PredictConfig, fv)
  options, _ = deeplab_flags.model_options(
      fv, crop_size=config.eval_crop_size, checkpoint=config.checkpoint)
  return run(config, options)


def main(argv=None):
  """`deeplab-predict` / `python -m deeplab.predict`."""
  command.run_command(__doc__, GROUPS, _job, argv)


if __name__ == '__main__':
  main()
