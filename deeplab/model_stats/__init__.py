"""Parameters and Multiply-Adds of a DeepLab model (the paper's Mul-Adds).

`model_statistics(options, eval_scales, add_flipped_images)` counts the
evaluation graph as TensorFlow's profiler counts the original's, halved (a
multiply-add is two floating-point operations): every convolution call
(`count_multiply_adds`; an atrous one over TF1's padded space-to-batch
grid, and densely), and the float operations between them that the
profiler's registry counts (`count_other_float_ops`). The whole rule, and
what it reproduces: `deeplab-model-stats --help` and docs/flops.md.
"""
import keras
import numpy as np

from deeplab import common
from deeplab import runtime
from deeplab.core import layers as deeplab_layers


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


# Float operations an output element of the original's ops for each of our
# activations (its hard-swish: x + 3, relu6, * x, * 1/6; q-sigmoid: x + 3,
# relu6, * 1/6); relu, relu6 and sigmoid are not in the profiler's registry.
_ACTIVATION_FLOPS = {'hard_swish': 3, 'q_sigmoid': 2}
# Layers whose call is the original's final argmax (`predict_labels`).
_ARGMAX_LAYERS = (deeplab_layers.ChannelArgmax, deeplab_layers.UpsampledArgmax,
                  deeplab_layers.ArgmaxUpsample)


def _elements(shape):
  """Elements of one image's tensor (the batch dimension left out)."""
  return int(np.prod([int(d) for d in shape[1:]]))


def _argmax_flops(layer, node):
  """The profiler's ArgMax: input elements less output elements, over the
  logits the original takes the argmax of."""
  shapes = [t.shape for t in node.input_tensors]
  if isinstance(layer, deeplab_layers.UpsampledArgmax):
    # argmax(resize(logits)): over the logits at the reference's size.
    upsampled = tuple(shapes[1][1:3]) + (shapes[0][-1],)
    return int(np.prod(upsampled)) - int(np.prod(upsampled[:2]))
  return _elements(shapes[0]) - _elements(shapes[0][:-1])


def _call_flops(layer, node):
  """Float operations the profiler counts for one call of `layer` outside
  its convolution (the convolutions are `count_multiply_adds`')."""
  outputs = _elements(node.output_tensors[0].shape)
  inputs = [t.shape for t in node.input_tensors]
  if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
    return outputs if layer.use_bias else 0  # BiasAdd.
  if isinstance(layer, keras.layers.Add):
    return (len(inputs) - 1) * outputs
  if isinstance(layer, keras.layers.Average):
    return len(inputs) * outputs  # n - 1 adds and a division.
  if isinstance(layer, keras.layers.Softmax):
    return 5 * outputs  # The registry's rule.
  if isinstance(layer, deeplab_layers.Activation):
    return _ACTIVATION_FLOPS.get(layer.kind, 0) * outputs
  if isinstance(layer, deeplab_layers.Gate):
    return outputs
  if isinstance(layer, deeplab_layers.Normalize):
    return (2 if layer.method == 'unit_range' else 1) * outputs
  if isinstance(layer, deeplab_layers.ImagePooling):
    shape = tuple(node.output_tensors[0].shape[1:3])
    if shape == (1, 1):  # A global mean: each input element once.
      return _elements(inputs[0])
    return int(np.prod(layer.pool_size)) * outputs  # AvgPool: window x out.
  if isinstance(layer, (keras.layers.MaxPooling2D,
                        keras.layers.AveragePooling2D)):
    return int(np.prod(layer.pool_size)) * outputs
  if isinstance(layer, _ARGMAX_LAYERS):
    return _argmax_flops(layer, node)
  return 0


def count_other_float_ops(model):
  """Float operations of every layer call between the convolutions, as the
  profiler counts the original's ops (module docstring): a dict from layer
  name to its calls' total (layers that count nothing left out)."""
  totals = {}
  for layer in _all_layers(model):
    for node in layer._inbound_nodes:  # pylint: disable=protected-access
      flops = _call_flops(layer, node)
      if flops:
        totals[layer.name] = totals.get(layer.name, 0) + flops
  return totals


def model_statistics(options, eval_scales=(1.0,), add_flipped_images=False):
  """Parameters and Multiply-Adds of the evaluation graph for `options`.

  Args:
    options: `common.ModelOptions` with a crop size.
    eval_scales: Input scales (the paper's MS rows use 0.5 ... 1.75).
    add_flipped_images: Also count the left-right flipped passes.

  Returns:
    dict with params, trainable_params, multiply_adds (the original's
    count), multiply_adds_dense, the convolutions' share
    (multiply_adds_convolutions, split into multiply_adds_conv and
    multiply_adds_depthwise), other_float_ops (the
    rest, before halving) and the options used.
  """
  if options.crop_size is None:
    raise ValueError('--crop_size is required to count Multiply-Adds.')
  model = runtime.build_graph(options, common.InferenceOptions(
      eval_scales=eval_scales, add_flipped_images=add_flipped_images,
      fold_batch_norm=False))
  counts = count_multiply_adds(model)
  other = sum(count_other_float_ops(model).values())
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
      multiply_adds=counts['multiply_adds'] + other // 2,
      multiply_adds_dense=counts['multiply_adds_dense'] + other // 2,
      # The convolutions alone (the benchmarks' floors: matmul-like work).
      multiply_adds_convolutions=counts['multiply_adds'],
      multiply_adds_conv=counts['conv'],
      multiply_adds_depthwise=counts['depthwise'],
      other_float_ops=other,
  )
