r"""Segments images with a checkpoint: a training run, a model-zoo folder,
or a checkpoint of the original.

  deeplab-predict --checkpoint=<run folder, zoo folder or the original's
      checkpoint prefix> --image=photo.jpg [--output_npz=out.npz]
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

A run folder, a zoo folder or a converted checkpoint carries its model
options (model_options.json); flags given explicitly override them.
"""
from deeplab import configs
from deeplab.cli import command
from deeplab.cli import flag_tables
from deeplab.cli import flags as flag_lib
from deeplab.cli import run_settings

GROUPS = [
    flag_lib.FlagGroup('Prediction', flag_tables.PREDICT_FLAGS,
                       configs.PredictConfig),
    flag_tables.model_group(output_stride=16),
    flag_tables.inference_group(configs.PredictConfig),
]


def job(fv):
  """Segments the images the flags name; the lines to print."""
  from deeplab import predict  # pylint: disable=g-import-not-at-top
  return predict.run(*run_settings.job_settings(
      fv, configs.PredictConfig, 'checkpoint', 'eval_crop_size'))


main = command.entry_point(__doc__, GROUPS, job)
