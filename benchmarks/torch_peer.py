r"""The same DeepLab in PyTorch (`torch.compile`, frozen), timed against ours.

  python benchmarks/torch_peer.py [--model_variant=xception_65|mobilenet_v2]
      [--threads=both|1|default] [--runs=9]

Optional: PyTorch is not a dependency of this project. Without it the script
says so and exits with status 0 (nothing is measured). On this project's
machines `pip install torch==2.13.0` installs the CPU build.

The peer is not a re-implementation by hand: the BatchNorm-folded Keras
graph that `benchmarks/inference.py` times as `optimized` is translated layer
by layer into PyTorch (NCHW in channels-last memory, the same weights,
paddings, dilations and align-corners resizes), compiled with
`torch.compile` with freezing (inductor, as a PyTorch user deploying on CPU
would), and its logits and labels are compared with ours. Its head is the usual one:
upsample the logits to the input size, then argmax.

For each thread setting (one pinned thread; all cores) a fresh process
measures in one run, interleaved: the fp32 matmul floor (as in
`inference.py`), our optimized graph, the same with the peer's head
(`ours_full_argmax`: argmax of the fully upsampled logits), the peer in
eager mode and compiled; it prints the median and best latencies, their
ratios to the floor, and compiled peer / ours.
"""
import json
import os
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import inference as bench  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS


def torch_available():
  try:
    import torch  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return False
  return True


def _same_pad(size, k_eff, stride):
  """(before, after) of TF's 'SAME' padding along one dimension."""
  out = -(-size // stride)
  total = max((out - 1) * stride + k_eff - size, 0)
  return total // 2, total - total // 2


def translate(model, torch, trainable=False):
  """A torch.nn.Module computing `model`'s 'predictions' (folded model with
  static shapes), with its weights (`trainable`: as parameters that take
  gradients, for the training peer of `train_step.py`)."""
  from deeplab.core import ops  # pylint: disable=g-import-not-at-top
  functional = torch.nn.functional
  params = torch.nn.ParameterList()
  steps = []  # (function, input tensor ids, output tensor id)

  def tensor_id(keras_tensor):
    return id(keras_tensor)

  def conv_step(layer, depthwise):
    kernel = layer.kernel.numpy()
    if depthwise:  # [k, k, C, 1] -> [C, 1, k, k]
      weight = kernel.transpose(2, 3, 0, 1)
    else:  # [k, k, in, out] -> [out, in, k, k]
      weight = kernel.transpose(3, 2, 0, 1)
    w = torch.nn.Parameter(torch.from_numpy(weight.copy()),
                           requires_grad=trainable)
    b = torch.nn.Parameter(torch.from_numpy(layer.bias.numpy().copy()),
                           requires_grad=trainable)
    params.extend([w, b])
    groups = weight.shape[0] if depthwise else 1
    k, s, r = layer.kernel_size, layer.strides, layer.rate
    k_eff = k + (k - 1) * (r - 1)
    return w, b, groups, k_eff, s, r

  for layer in model.operations:
    node = layer._inbound_nodes[0]  # pylint: disable=protected-access
    inputs = [tensor_id(t) for t in node.input_tensors]
    output = tensor_id(node.output_tensors[0])
    name = type(layer).__name__
    if name == 'InputLayer':
      steps.append((None, [], output))
      continue
    if name in ('FoldedConv2D', 'FoldedDepthwiseConv2D'):
      w, b, groups, k_eff, s, r = conv_step(
          layer, name == 'FoldedDepthwiseConv2D')
      in_shape = node.input_tensors[0].shape
      if layer.fixed_padding and s > 1:
        fixed = ((k_eff - 1) // 2, k_eff - 1 - (k_eff - 1) // 2)
        pads = [fixed, fixed]
      else:
        pads = [_same_pad(n, k_eff, s) for n in in_shape[1:3]]
      act = layer.activation

      def fn(x, w=w, b=b, groups=groups, s=s, r=r, pads=pads, act=act):
        if pads[0][0] == pads[0][1] and pads[1][0] == pads[1][1]:
          y = functional.conv2d(x, w, b, s, (pads[0][0], pads[1][0]), r,
                                groups)
        else:
          x = functional.pad(x, (pads[1][0], pads[1][1], pads[0][0],
                                 pads[0][1]))
          y = functional.conv2d(x, w, b, s, 0, r, groups)
        if act == 'relu':
          y = functional.relu(y)
        elif act == 'relu6':
          y = functional.hardtanh(y, 0.0, 6.0)
        return y
    elif name == 'Normalize':
      if layer.method == 'unit_range':
        fn = lambda x: (2.0 / 255.0) * x - 1.0
      else:
        mean = torch.tensor(layer.mean_rgb).reshape(1, 3, 1, 1)
        fn = lambda x, mean=mean: x - mean
    elif name in ('ReluAfterSum', 'ReLU'):
      fn = functional.relu
    elif name == 'Add':
      fn = lambda *xs: sum(xs[1:], xs[0])
    elif name == 'Concatenate':
      fn = lambda *xs: torch.cat(xs, 1)
    elif name == 'Dropout':
      fn = lambda x: x
    elif name == 'ImagePooling':
      window = layer.pool_size
      hw = tuple(node.input_tensors[0].shape[1:3])
      if window is None or tuple(window) == hw:
        fn = lambda x: x.mean((2, 3), keepdim=True)
      else:
        fn = lambda x, window=window, s=layer.strides: functional.avg_pool2d(
            x, window, s)
    elif name == 'ResizeBilinear':
      if layer.size is not None:
        size = layer.size
      else:
        ref = node.input_tensors[1].shape[1:3]
        size = tuple(int(ops.scale_dimension(n, layer.scale))
                     for n in ref)
      inputs = inputs[:1]
      if tuple(node.input_tensors[0].shape[1:3]) == tuple(size):
        fn = lambda x: x
      else:
        fn = lambda x, size=size: functional.interpolate(
            x, size=size, mode='bilinear', align_corners=True)
    elif name == 'Softmax':
      continue  # Only the labels are computed.
    elif name in ('UpsampledArgmax', 'ChannelArgmax'):
      size = tuple(model.inputs[0].shape[1:3])
      if name == 'UpsampledArgmax':
        inputs = inputs[:1]
        fn = lambda x, size=size: functional.interpolate(
            x, size=size, mode='bilinear', align_corners=True).argmax(1)
      else:
        fn = lambda x: x.argmax(1)
    else:
      raise ValueError('No PyTorch translation of %s (%s).'
                       % (layer.name, name))
    steps.append((fn, inputs, output))

  # Keep the steps that the labels need.
  final = tensor_id(model.get_layer('predictions').output)
  logits = tensor_id(model.get_layer('predictions')._inbound_nodes[0]  # pylint: disable=protected-access
                     .input_tensors[0])
  needed, kept = {final}, []
  for step in reversed(steps):
    if step[2] in needed:
      needed.update(step[1])
      kept.append(step)
  kept.reverse()

  class Peer(torch.nn.Module):
    """The translated graph: float NHWC pixels -> int64 labels [B, H, W]."""

    def __init__(self):
      super().__init__()
      self.params = params

    def forward(self, images, return_logits=False):
      values = {}
      for fn, inputs, output in kept:
        if fn is None:
          values[output] = images.permute(0, 3, 1, 2).contiguous(
              memory_format=torch.channels_last)
        else:
          values[output] = fn(*[values[i] for i in inputs])
      if return_logits:  # NHWC, to compare with the Keras model's.
        return values[logits].permute(0, 2, 3, 1)
      return values[final]

  return Peer().eval()


def _measure(threads):
  """In the child: floor, ours and the peer, interleaved."""
  tf = bench.configure_threads(threads)
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(len(os.sched_getaffinity(0)))  # 1 when pinned.
  import tempfile  # pylint: disable=g-import-not-at-top
  from deeplab import model_stats  # pylint: disable=g-import-not-at-top
  options = bench.model_options()
  work = 2 * model_stats.model_statistics(options)[
      'multiply_adds_convolutions'] / 1e9
  meter = bench.matmul_rate_meter(('float32',))
  matmul_rate = lambda: meter('float32')
  rng = np.random.RandomState(0)
  checkpoint = bench.trained_like_checkpoint(options, rng, tempfile.mkdtemp())
  folded = bench.load(options, checkpoint)
  ours = tf.function(lambda x: folded(x, training=False)['predictions'],
                     jit_compile=False)
  # Ours with the peer's head (argmax of the fully upsampled logits).
  full = bench.load(options, checkpoint, argmax_shortcut=False)
  ours_full = tf.function(lambda x: full(x, training=False)['predictions'],
                          jit_compile=False)
  image = rng.randint(0, 256, (1,) + options.crop_size + (3,)).astype(
      np.float32)
  peer = translate(folded, torch)
  import torch._inductor.config as inductor_config  # pylint: disable=g-import-not-at-top
  inductor_config.freezing = True
  compiled = torch.compile(peer)
  tf_image, torch_image = tf.constant(image), torch.from_numpy(image)
  with torch.no_grad():
    # Same model: the logits agree up to float32 rounding.
    want = folded(tf_image, training=False)['logits'].numpy()
    got = peer(torch_image, return_logits=True).numpy()
    logits_error = float(np.abs(got - want).max() / np.abs(want).max())
    graphs = {'ours_optimized': lambda: ours(tf_image).numpy(),
              'ours_full_argmax': lambda: ours_full(tf_image).numpy(),
              'torch_eager': lambda: peer(torch_image).numpy(),
              'torch_compiled': lambda: compiled(torch_image).numpy()}
    labels = {k: g() for k, g in graphs.items()}  # Also compiles.
    for _ in range(2):
      matmul_rate()
      for g in graphs.values():
        g()
    rates, times = [], {k: [] for k in graphs}
    for _ in range(FLAGS.runs):
      for k, g in graphs.items():
        rates.append(matmul_rate())
        start = time.perf_counter()
        g()
        times[k].append(time.perf_counter() - start)
  rate, best_rate = float(np.median(rates)), float(np.max(rates))
  results = []
  for k, samples in times.items():
    results.append({
        'model_variant': options.model_variant, 'graph': k,
        'threads': 1 if threads == '1' else 'default',
        'median_s': float(np.median(samples)), 'best_s': float(min(samples)),
        'fp32_matmul_gflops': rate, 'fp32_best_matmul_gflops': best_rate,
        'ratio_to_fp32_floor': float(np.median(samples)) / (work / rate),
        'best_ratio_to_fp32_floor': float(min(samples)) / (work / best_rate),
        'label_agreement': float(
            (labels[k].reshape(-1) == labels['ours_optimized'].reshape(-1))
            .mean()),
        'logits_max_relative_error': logits_error,
        'torch_version': torch.__version__})
  return results


def main(unused_argv):
  if FLAGS._child:  # pylint: disable=protected-access
    print('RESULT ' + json.dumps(_measure(FLAGS._child)))  # pylint: disable=protected-access
    return
  if not torch_available():
    print('PyTorch is not installed: no peer figure measured '
          '(pip install torch==2.13.0 for the CPU build).')
    return
  model, features = bench.cpu_features()
  print('CPU: %s; %s' % (model, ', '.join(
      '%s %s' % (k, 'yes' if v else 'no') for k, v in features.items())))
  print('%s, %dx%d, batch 1, fp32, median and best of %d interleaved runs'
        % (FLAGS.model_variant, FLAGS.crop, FLAGS.crop, FLAGS.runs),
        flush=True)
  settings = ['1', 'default'] if FLAGS.threads == 'both' else [FLAGS.threads]
  for threads in settings:
    results, steal = bench.run_child(__file__, threads, [
        '--runs=%d' % FLAGS.runs, '--crop=%d' % FLAGS.crop,
        '--model_variant=' + FLAGS.model_variant,
        '--inter_op_threads=%d' % FLAGS.inter_op_threads])
    by_graph = {r['graph']: r for r in results}
    first = results[0]
    print('threads %s: fp32 matmul %.1f GFLOP/s (best %.1f); torch %s; '
          'peer logits vs ours: max error %.1e of the largest logit; CPU '
          'time stolen by the hypervisor %s' % (
              threads, first['fp32_matmul_gflops'],
              first['fp32_best_matmul_gflops'], first['torch_version'],
              first['logits_max_relative_error'],
              'unknown' if steal is None else '%.1f%%' % (100 * steal)))
    for r in results:
      print('  %-15s %.4f s = %.2fx fp32 floor | best %.4f s = %.2fx | '
            'labels agree %.4f%%' % (
                r['graph'], r['median_s'], r['ratio_to_fp32_floor'],
                r['best_s'], r['best_ratio_to_fp32_floor'],
                100 * r['label_agreement']))
    ours = by_graph['ours_optimized']
    peer = by_graph['torch_compiled']
    print('  torch_compiled / ours: median %.3f, best %.3f (above 1: ours '
          'is faster)' % (peer['median_s'] / ours['median_s'],
                          peer['best_s'] / ours['best_s']), flush=True)
    if FLAGS.json:
      for r in results:
        print(json.dumps(r), flush=True)


if __name__ == '__main__':
  app.run(main)
