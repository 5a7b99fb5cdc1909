r"""Parameters and Multiply-Adds of a DeepLab model (the paper's Mul-Adds).

  python -m deeplab.model_stats --model_variant=xception_65 \
      --output_stride=16 --atrous_rates=6 --atrous_rates=12 \
      --atrous_rates=18 --decoder_output_stride=4 --crop_size=513,513 \
      [--eval_scales=0.5 --eval_scales=0.75 ...] [--add_flipped_images] --json

Counting rule: as TensorFlow's profiler (`tf.profiler`, float operations)
counts the original's TF1 evaluation graph, halved (two floating-point
operations a multiply-add), which reproduces the original's figures. The
convolutions (regular, depthwise and pointwise) are nearly all of it. TF1
runs an atrous convolution as SpaceToBatch, a VALID convolution over the
padded grid of `rate x rate` sub-images, and BatchToSpace, and the profiler
counts the padded grid, not only the output pixels; `multiply_adds` counts
that grid (the paper's Tables 3 and 5 are reproduced within 1%),
`multiply_adds_dense` each output pixel once, as a native dilated
convolution computes it. The rest is the operations between convolutions
that the profiler's registry counts (`other_float_ops`, halved into both
figures): biases, residual sums, hard-swish (add, two multiplies) and the
q-sigmoid (add, multiply), squeeze-and-excitation gates and means, pooling,
the input's normalisation, softmax (five an element) and the final argmax
(one an element less the output). BatchNorm (one fused op there), ReLU,
sigmoid, resizes, padding and concatenation are not counted, as the profiler
does not count them. That rest is under 0.1% of the paper's models, but 3%
of MobileNetV3-large's and 9% of -small's (their hard-swish and gates at
high resolution): with it, their counts are the 7.83B and 2.15B the original
code gives.
"""
import json

from deeplab import common
from deeplab.cli import command
from deeplab.cli import flag_tables
from deeplab.cli import flags as flag_lib
from deeplab.cli import run_settings

_FLAGS = {
    'crop_size': ('crop_size', 'Image crop size [height, width].',
                  dict(default=(513, 513))),
    'num_classes': ('integer', 'Number of classes.', dict(default=21)),
    'json': ('boolean', 'Print the statistics as JSON (last line).',
             dict(default=False)),
}


def job(fv):
  """Counts the model the flags describe; the lines to print."""
  from deeplab import model_stats  # pylint: disable=g-import-not-at-top
  options, _ = run_settings.model_options(
      fv, crop_size=common.parse_crop_size(
          flag_lib.flatten(fv.crop_size), 'crop_size'),
      log=False)
  stats = model_stats.model_statistics(options, fv.eval_scales,
                                       fv.add_flipped_images)
  lines = ['%s OS%d crop %dx%d scales %s%s: %.2fM params (%.2fM trainable), '
           '%.2fB Multiply-Adds (dense count %.2fB)' % (
               options.model_variant, options.output_stride,
               options.crop_size[0], options.crop_size[1], fv.eval_scales,
               ' +flip' if fv.add_flipped_images else '',
               stats['params'] / 1e6, stats['trainable_params'] / 1e6,
               stats['multiply_adds'] / 1e9,
               stats['multiply_adds_dense'] / 1e9)]
  if fv.json:
    lines.append(json.dumps(stats))
  return lines


GROUPS = [
    flag_lib.FlagGroup('Statistics', _FLAGS),
    flag_lib.FlagGroup('Scales', flag_tables.SCALES_FLAGS,
                       common.InferenceOptions),
    flag_tables.model_group(output_stride=16)]


main = command.entry_point(__doc__, GROUPS, job)
