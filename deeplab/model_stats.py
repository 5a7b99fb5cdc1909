r"""Parameters and Multiply-Adds of a DeepLab model (the paper's Mul-Adds).

  python -m deeplab.model_stats --model_variant=xception_65 \
      --output_stride=16 --atrous_rates=6 --atrous_rates=12 \
      --atrous_rates=18 --decoder_output_stride=4 --crop_size=513,513 \
      [--eval_scales=0.5 --eval_scales=0.75 ...] [--add_flipped_images] --json

Counting rule. Multiply-adds are those of the convolutions (regular,
depthwise and pointwise); BatchNorm, activations, pooling and resizes are not
counted. The paper measured its Tables 3 and 5 on the TF1 graph, where
TensorFlow runs an atrous convolution as SpaceToBatch, a VALID convolution
over the padded grid of `rate x rate` sub-images, and BatchToSpace; the
profiler then counts the padded grid, not only the output pixels. That is
`multiply_adds` here (the paper's convention, reproduced within 1%);
`multiply_adds_dense` counts each output pixel once, as a native dilated
convolution computes it.
"""
import json

import keras
import numpy as np

from deeplab import common
from deeplab import flags as deeplab_flags
from deeplab import runtime


def _space_to_batch_outputs(size, kernel, rate):
  """Output positions TF1 evaluates for a 'SAME' atrous conv along one axis."""
  if rate == 1 or size is None:
    return size
  pad = (kernel - 1) * rate  # SAME padding of the dilated kernel.
  full = size + pad
  full += (-full) % rate  # SpaceToBatch pads the end to a multiple of rate.
  return rate * (full // rate - kernel + 1)


def count_multiply_adds(model):
  """Multiply-adds of every convolution call in a Keras functional model.

  Every call counts, so a multi-scale (or flipped) model that reuses the same
  layers at several sizes counts each pass.

  Returns:
    dict with 'multiply_adds' (TF1 space-to-batch convention, the paper's),
    'multiply_adds_dense', and the split into 'conv' and 'depthwise'.
  """
  totals = {'multiply_adds': 0, 'multiply_adds_dense': 0, 'conv': 0,
            'depthwise': 0}
  for layer in _all_layers(model):
    if not isinstance(layer, (keras.layers.Conv2D,
                              keras.layers.DepthwiseConv2D)):
      continue
    depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
    kh, kw, cin, cout = layer.kernel.shape
    per_pixel = kh * kw * cin * cout  # depthwise: cout is the multiplier.
    rate = layer.dilation_rate
    # Keras keeps call records on the layer; each inbound node is one call.
    for node in layer._inbound_nodes:  # pylint: disable=protected-access
      out_shape = node.output_tensors[0].shape
      in_shape = node.input_tensors[0].shape
      if None in tuple(out_shape[1:3]):
        raise ValueError('Multiply-adds need a static size: give a crop size.')
      dense = out_shape[1] * out_shape[2] * per_pixel
      grid_h = _space_to_batch_outputs(in_shape[1], kh, rate[0])
      grid_w = _space_to_batch_outputs(in_shape[2], kw, rate[1])
      tf1 = (grid_h * grid_w * per_pixel if max(rate) > 1 else dense)
      totals['multiply_adds'] += int(tf1)
      totals['multiply_adds_dense'] += int(dense)
      totals['depthwise' if depthwise else 'conv'] += int(tf1)
  return totals


def _all_layers(model):
  for layer in model.layers:
    if isinstance(layer, keras.Model):
      yield from _all_layers(layer)
    else:
      yield layer


def model_statistics(options, eval_scales=(1.0,), add_flipped_images=False):
  """Parameters and Multiply-Adds of the evaluation graph for `options`.

  Args:
    options: `common.ModelOptions` with a crop size.
    eval_scales: Input scales (the paper's MS rows use 0.5 ... 1.75).
    add_flipped_images: Also count the left-right flipped passes.

  Returns:
    dict with params, trainable_params, multiply_adds (count),
    multiply_adds_dense, and the options used.
  """
  if options.crop_size is None:
    raise ValueError('--crop_size is required to count Multiply-Adds.')
  model = runtime.build_graph(options, common.InferenceOptions(
      eval_scales=eval_scales, add_flipped_images=add_flipped_images,
      fold_batch_norm=False))
  counts = count_multiply_adds(model)
  trainable = int(sum(np.prod(v.shape) for v in model.trainable_weights))
  total = int(sum(np.prod(v.shape) for v in model.weights))
  return dict(
      model_variant=options.model_variant,
      crop_size=list(options.crop_size),
      output_stride=options.output_stride,
      atrous_rates=list(options.atrous_rates or []),
      decoder_output_stride=list(options.decoder_output_stride or []),
      aspp_with_separable_conv=options.aspp_with_separable_conv,
      decoder_use_separable_conv=options.decoder_use_separable_conv,
      eval_scales=list(eval_scales),
      add_flipped_images=bool(add_flipped_images),
      params=total,
      trainable_params=trainable,
      multiply_adds=counts['multiply_adds'],
      multiply_adds_dense=counts['multiply_adds_dense'],
      multiply_adds_conv=counts['conv'],
      multiply_adds_depthwise=counts['depthwise'],
  )


_FLAGS = {
    'crop_size': ('crop_size', 'Image crop size [height, width].',
                  dict(default=(513, 513))),
    'num_classes': ('integer', 'Number of classes.', dict(default=21)),
    'json': ('boolean', 'Print the statistics as JSON (last line).',
             dict(default=False)),
}


def _job(fv):
  options, _ = deeplab_flags.model_options(
      fv, crop_size=common.parse_crop_size(
          deeplab_flags.flatten(fv.crop_size), 'crop_size'),
      log=False)
  stats = model_statistics(options, fv.eval_scales, fv.add_flipped_images)
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


def run(argv=None):
  """Console entry point (`deeplab-model-stats`)."""
  from deeplab import command  # pylint: disable=g-import-not-at-top
  command.run_command(__doc__, [
      deeplab_flags.FlagGroup('Statistics', _FLAGS),
      deeplab_flags.FlagGroup('Scales', deeplab_flags.SCALES_FLAGS,
                              common.InferenceOptions),
      deeplab_flags.model_group(output_stride=16)], _job, argv)


if __name__ == '__main__':
  run()
