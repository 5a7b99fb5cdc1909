r"""Converts an original TF1 DeepLab checkpoint to this project's format.

  python -m deeplab.convert_checkpoint --checkpoint=<TF1 prefix or dir> \
      --model_variant=xception_65 --atrous_rates=6 --atrous_rates=12 \
      --atrous_rates=18 --output_stride=16 --decoder_output_stride=4 \
      --num_classes=21 --output=<dir>

The checkpoint must fit the model built from the flags exactly (every
variable present, same shapes); anything that does not fit is reported by
name and nothing is written. The output directory receives `model.ckpt`
(keys: the original variable names) and `model_options.json`, which
`deeplab.predict` and the other scripts read.
"""
import sys

from absl import app
from absl import flags

from deeplab import checkpoints
from deeplab import common
from deeplab import model as model_lib


def convert(checkpoint, options, output_dir):
  """Loads `checkpoint` strictly into a model of `options` and saves it.

  Returns:
    (saved prefix, LoadReport).
  """
  model = model_lib.build_model(options.replace(crop_size=None))
  report = checkpoints.load_weights(model, checkpoint)
  prefix = checkpoints.save_weights(model, output_dir, options)
  return prefix, report


def define_flags():
  common.define_model_flags(output_stride_default=16)
  flags.DEFINE_string('checkpoint', None, 'TF1 checkpoint prefix or directory.')
  flags.DEFINE_string('output', None, 'Output directory.')
  flags.DEFINE_integer('num_classes', 21, 'Number of classes.')
  flags.mark_flags_as_required(['checkpoint', 'output'])


def main(argv):
  del argv
  fv = flags.FLAGS
  try:
    options = common.ModelOptions.from_flags(fv, num_classes=fv.num_classes)
    prefix, report = convert(fv.checkpoint, options, fv.output)
  except (ValueError, FileNotFoundError) as e:
    raise app.UsageError(str(e)) from e
  print(report.summary())
  print('wrote', prefix)


if __name__ == '__main__':
  define_flags()
  app.run(main, argv=sys.argv)
