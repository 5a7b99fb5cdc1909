r"""Segments one image with an original or a project checkpoint.

  deeplab-predict --checkpoint=<TF1 prefix, directory or project
      checkpoint> --image=photo.jpg [--output_npz=out.npz]
      [--output_png=colours.png] [--output_label_png=ids.png] [model flags]
      [--eval_crop_size=513,513]
      [--eval_scales=0.5 --eval_scales=1.0 ...] [--add_flipped_images]

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
  """The single-image tool's flags."""
  checkpoint: Optional[str] = None
  image: Optional[str] = None
  output_npz: Optional[str] = None
  output_png: Optional[str] = None
  output_label_png: Optional[str] = None
  num_classes: int = 21
  eval_crop_size: Optional[Tuple[int, int]] = None
  colormap: str = 'pascal'
  inference: common.InferenceOptions = dataclasses.field(
      default_factory=common.InferenceOptions)

  def validate(self):
    if not self.checkpoint or not self.image:
      raise ValueError('--checkpoint and --image are required.')
    if self.eval_crop_size:
      self.eval_crop_size = common.parse_crop_size(self.eval_crop_size,
                                                   'eval_crop_size')
    return self


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


def run(config, options):
  """Segments `config.image` and writes the outputs asked for.

  Returns:
    Lines describing the result.
  """
  config.validate()
  image = inference.read_image(config.image)
  result = inference.predict_image(image, options, config.checkpoint,
                                   inference=config.inference)
  save_outputs(result, config.output_npz, config.output_png, config.colormap,
               config.output_label_png)
  labels, counts = np.unique(result['predictions'], return_counts=True)
  lines = ['%s: %dx%d, classes %s' % (
      config.image, image.shape[0], image.shape[1],
      ', '.join('%d (%.1f%%)' % (l, 100.0 * c / result['predictions'].size)
                for l, c in zip(labels, counts)))]
  for path in (config.output_npz, config.output_png, config.output_label_png):
    if path:
      lines.append('wrote %s' % path)
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
