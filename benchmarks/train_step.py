r"""Training-step throughput of Xception-65 DeepLabv3+ on this machine.

  python benchmarks/train_step.py [--crop=321] [--batch_size=2] [--steps=5]
      [--precisions=float32,mixed_bfloat16] [--op_profile]

Times the real compiled training step (`step.make_train_step`: forward,
loss, weight decay, gradients with the original's multipliers, momentum
update) of Xception-65, output stride 16, ASPP rates 6/12/18, decoder at
stride 4, on random images, after warm-up. Each configuration runs in its
own process because TensorFlow fixes its thread pools at start-up:
  * single thread: intra/inter-op threads 1, process pinned to one core;
  * default threads: TensorFlow's defaults, all cores.
Prints images/s of each and their ratio, and each step's time against a
training floor measured in the same process: three times the forward FLOPs
of the batch (the forward pass, and the backward pass's two products of
the same size per layer: gradients for the inputs and for the weights),
i.e. 6 x the paper-convention Multiply-Adds at the crop x batch size,
divided by the fp32 rate of a 2048x2048 matmul timed between the steps
(`inference.py`'s meter). The floor counts the convolutions only: loss,
BatchNorm, activations and the optimizer update are above it.

Each of `--precisions` (`--precision` of train.py: float32, mixed_bfloat16,
mixed_float16) builds its own model under that Keras policy and its own
step, timed interleaved with the others; the others are also given against
the first one's step in the same process (its median step time over
theirs: the speed-up) and, for mixed_bfloat16, against a bfloat16 floor (the same work at the bf16 rate of
the 2048x2048 matmul, timed beside the fp32 one). Without bfloat16 units
(the benchmark prints the CPU's features) mixed_bfloat16 runs through
conversions and is slower than float32. `--op_profile` then traces two
more steps of each and prints their time by op type (TensorFlow's profiler;
with two threads, ops running side by side both count).

With PyTorch installed (optional, as for `torch_peer.py`; `--notorch` skips
it), the same process also times the peer's training step, interleaved
with ours: the graph `torch_peer.py` translates (the BatchNorm-folded
inference graph of the same configuration, with random weights of its own
made trainable; frozen BatchNorm is an affine map, so the convolutions are
the same work), the
same loss (softmax cross-entropy over the align-corners upsampled logits,
label 255 ignored, plus 4e-5 x sum(w^2) / 2 over the conv weights) and the
same optimizer (momentum 0.9, learning rate 0.007), eager and with
`torch.compile` (inductor; forward and backward compiled, the update
eager).
"""
import dataclasses
import json
import os
import subprocess
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import inference as bench  # pylint: disable=g-import-not-at-top,wrong-import-position

# --crop, --precisions and --_child are `inference.py`'s flags (imported
# above); --precisions names train.py's --precision values here, the first
# being the reference of the speed-ups.
flags.FLAGS.set_default('crop', 321)
flags.FLAGS.set_default('precisions', ['float32', 'mixed_bfloat16'])
flags.DEFINE_integer('batch_size', 2, 'Images per step.')
flags.DEFINE_integer('steps', 5, 'Timed steps.')
flags.DEFINE_integer('warmup', 2, 'Untimed steps first (tracing included).')
flags.DEFINE_bool('torch', True, 'Also time the PyTorch peer (when '
                  'installed).')
flags.DEFINE_bool('op_profile', False,
                  'Also trace two steps of each of our precisions and print '
                  'where their time goes, by op type (ms per step).')
flags.DEFINE_bool('fine_tune_batch_norm', False,
                  'Train BatchNorm statistics (the paper does at batch 16).')
FLAGS = flags.FLAGS


def _measure(threads):
  """Runs in the child: builds the model and times the training step."""
  if threads == 'single':
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
  import numpy as np  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if threads == 'single':
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
  # pylint: disable=g-import-not-at-top
  from deeplab import common
  from deeplab import configs
  from deeplab import model as model_lib
  from deeplab.training import learning_rate
  from deeplab.training import optimizers
  from deeplab.training import step as step_lib

  crop = (FLAGS.crop, FLAGS.crop)
  options = common.ModelOptions(
      model_variant='xception_65', crop_size=crop, output_stride=16,
      atrous_rates=(6, 12, 18), decoder_output_stride=(4,))
  config = configs.TrainConfig(train_logdir='unused', train_crop_size=crop,
                               train_batch_size=FLAGS.batch_size)
  strategy = tf.distribute.get_strategy()

  def make_step(precision):
    # The policy is read when layers are built, as train.py sets it.
    keras.mixed_precision.set_global_policy(precision)
    try:
      model = model_lib.build_model(
          options, fine_tune_batch_norm=FLAGS.fine_tune_batch_norm,
          per_scale_outputs=True)
      optimizer = optimizers.Momentum(
          learning_rate.DeepLabLearningRate(base_learning_rate=0.007), 0.9)
      if precision == 'mixed_float16':
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
      return step_lib.make_train_step(
          model, optimizer, strategy, tf.Variable(0, dtype=tf.int64),
          dataclasses.replace(config, precision=precision), 21, 255)
    finally:
      keras.mixed_precision.set_global_policy('float32')

  rng = np.random.RandomState(0)
  batch = {
      'image': tf.constant(rng.uniform(0, 255, (FLAGS.batch_size,) + crop +
                                       (3,)).astype(np.float32)),
      'label': tf.constant(rng.randint(0, 21, (FLAGS.batch_size,) + crop +
                                       (1,)).astype(np.int32))}
  from deeplab import model_stats  # pylint: disable=g-import-not-at-top
  forward = 2 * model_stats.model_statistics(options)[
      'multiply_adds_convolutions']
  work = 3 * forward * FLAGS.batch_size / 1e9  # GFLOP per step.
  low = 'mixed_bfloat16' in FLAGS.precisions  # A bf16 floor too.
  meter = bench.matmul_rate_meter(('float32',) + (('bfloat16',) if low
                                                  else ()))
  steps = {}
  for precision in FLAGS.precisions:
    step = make_step(precision)
    steps[_name(precision)] = (
        lambda step=step: step(batch)['total_loss'].numpy())
  steps.update(_torch_steps(options, batch, rng))
  for _ in range(FLAGS.warmup):
    for run in steps.values():
      run()
    meter('float32')
    if low:
      meter('bfloat16')
  times, rates, bf16_rates = {k: [] for k in steps}, [], []
  for _ in range(FLAGS.steps):
    for name, run in steps.items():
      rates.append(meter('float32'))
      if low:
        bf16_rates.append(meter('bfloat16'))
      start = time.perf_counter()
      run()
      times[name].append(time.perf_counter() - start)
  rate = float(np.median(rates))
  result = {'threads': threads, 'step_gflop_floor_work': work,
            'fp32_matmul_gflops': rate, 'training_floor_s': work / rate}
  if low:
    result['bf16_matmul_gflops'] = float(np.median(bf16_rates))
    result['bf16_training_floor_s'] = work / result['bf16_matmul_gflops']
  for name, samples in times.items():
    median = float(np.median(samples))
    result[name] = {
        'seconds_per_step': float(np.mean(samples)),
        'median_seconds_per_step': median,
        'images_per_second': FLAGS.steps * FLAGS.batch_size / sum(samples),
        'ratio_to_training_floor': median / (work / rate)}
    if low:
      result[name]['ratio_to_bf16_training_floor'] = (
          median / result['bf16_training_floor_s'])
  if FLAGS.op_profile:
    result['op_profile'] = {
        _name(p): _op_type_totals(steps[_name(p)]) for p in FLAGS.precisions}
  return result


def _op_type_totals(run, steps=2):
  """ms per step by op type over `steps` traced steps (TensorFlow's
  profiler; the executor's op events of the host plane)."""
  import collections  # pylint: disable=g-import-not-at-top
  import glob  # pylint: disable=g-import-not-at-top
  import re  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
  space = xplane_pb2.XSpace()
  with tempfile.TemporaryDirectory() as logdir:
    tf.profiler.experimental.start(logdir)
    try:
      for _ in range(steps):
        run()
    finally:
      tf.profiler.experimental.stop()
    for path in glob.glob(os.path.join(logdir, '**', '*.xplane.pb'),
                          recursive=True):
      with open(path, 'rb') as f:
        space.MergeFromString(f.read())
  totals = collections.Counter()
  for plane in space.planes:
    if not plane.name.startswith('/host:CPU'):
      continue
    for line in plane.lines:
      for event in line.events:
        name = plane.event_metadata[event.metadata_id].name
        kind = name.rsplit(':', 1)[-1]
        # An op's event is named 'op_name:OpType'; the function and the
        # executor's own events ('Run', 'Process', '__inference_...') span
        # the ops.
        if ':' in name and re.fullmatch(r'_?[A-Z]\w*', kind) and kind not in (
            'Process', 'Run'):
          totals[kind] += event.duration_ps / 1e9 / steps
  return dict(totals)


def _name(precision):
  """Our step's name in the results: 'ours' for float32."""
  return 'ours' if precision == 'float32' else 'ours_' + precision


def _torch_steps(options, batch, rng):
  """The PyTorch peer's training steps (eager, compiled), or none."""
  if not FLAGS.torch:
    return {}
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    return {}
  import tempfile  # pylint: disable=g-import-not-at-top
  import torch_peer  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(len(os.sched_getaffinity(0)))  # 1 when pinned.
  folded = bench.load(options, bench.trained_like_checkpoint(
      options, rng, tempfile.mkdtemp()))
  functional = torch.nn.functional
  images = torch.from_numpy(batch['image'].numpy())
  labels = torch.from_numpy(batch['label'].numpy()[..., 0].astype('int64'))
  size = tuple(options.crop_size)
  steps = {}
  for name in ('torch_eager', 'torch_compiled'):
    peer = torch_peer.translate(folded, torch, trainable=True)
    decayed = [w for w in peer.parameters() if w.dim() == 4 and w.shape[1] > 1]
    optimizer = torch.optim.SGD(peer.parameters(), lr=0.007, momentum=0.9)
    net = torch.compile(peer) if name == 'torch_compiled' else peer

    def run(net=net, optimizer=optimizer, decayed=decayed):
      logits = net(images, return_logits=True).permute(0, 3, 1, 2)
      logits = functional.interpolate(logits, size=size, mode='bilinear',
                                      align_corners=True)
      loss = functional.cross_entropy(logits, labels, ignore_index=255)
      loss = loss + 4e-5 * 0.5 * sum((w * w).sum() for w in decayed)
      optimizer.zero_grad()
      loss.backward()
      optimizer.step()
      return float(loss)

    steps[name] = run
  return steps


def main(unused_argv):
  if FLAGS._child:  # pylint: disable=protected-access
    print('RESULT ' + json.dumps(_measure(FLAGS._child)))  # pylint: disable=protected-access
    return
  bad = set(FLAGS.precisions) - {'float32', 'mixed_bfloat16',
                                       'mixed_float16'}
  if bad or not FLAGS.precisions:
    raise app.UsageError('--precisions: %s is not float32, '
                         'mixed_bfloat16 or mixed_float16.' % (
                             ', '.join(sorted(bad)) or 'an empty list'))
  model, features = bench.cpu_features()
  print('CPU: %s; %s' % (model, ', '.join(
      '%s %s' % (k, 'yes' if v else 'no') for k, v in features.items())))
  ours = [_name(p) for p in FLAGS.precisions]
  results = {}
  for threads in ('single', 'default'):
    cmd = [sys.executable, os.path.abspath(__file__), '--_child=' + threads,
           '--crop=%d' % FLAGS.crop, '--batch_size=%d' % FLAGS.batch_size,
           '--steps=%d' % FLAGS.steps, '--warmup=%d' % FLAGS.warmup,
           '--fine_tune_batch_norm=%s' % FLAGS.fine_tune_batch_norm,
           '--precisions=' + ','.join(FLAGS.precisions),
           '--torch' if FLAGS.torch else '--notorch',
           '--op_profile' if FLAGS.op_profile else '--noop_profile']
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
    out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                         check=True).stdout
    line = [l for l in out.splitlines() if l.startswith('RESULT ')][-1]
    results[threads] = json.loads(line[len('RESULT '):])
    r = results[threads]
    print('train step, xception_65 OS16 + decoder, crop %d, batch %d, %s '
          'threads: training floor %.3f s (3 x %.1f GFLOP forward at %.1f '
          'GFLOP/s)' % (FLAGS.crop, FLAGS.batch_size, threads,
                        r['training_floor_s'], r['step_gflop_floor_work'] / 3,
                        r['fp32_matmul_gflops']), flush=True)
    if 'bf16_training_floor_s' in r:
      print('  bf16 training floor %.3f s (the same work at %.1f GFLOP/s)' % (
          r['bf16_training_floor_s'], r['bf16_matmul_gflops']))
    for name in ours + ['torch_eager', 'torch_compiled']:
      if name in r:
        g = r[name]
        print('  %-22s %.3f images/s (%.2f s/step over %d steps; median '
              '%.3f s = %.2fx the training floor%s)' % (
                  name, g['images_per_second'], g['seconds_per_step'],
                  FLAGS.steps, g['median_seconds_per_step'],
                  g['ratio_to_training_floor'],
                  ', %.2fx the bf16 floor' % g['ratio_to_bf16_training_floor']
                  if name.endswith('bfloat16') else ''), flush=True)
    for name, totals in sorted(r.get('op_profile', {}).items()):
      print('  %s, where the step goes (traced, ms per step; the largest '
            'op types):' % name)
      for kind, ms in sorted(totals.items(), key=lambda kv: -kv[1])[:15]:
        print('    %-48s %8.1f' % (kind, ms))
    for name in ours[1:]:
      print('  %s / %s (median step time): %.3f (the speed-up of %s)' % (
          ours[0], name, r[ours[0]]['median_seconds_per_step'] /
          r[name]['median_seconds_per_step'], name))
    for name in ('torch_eager', 'torch_compiled'):
      if name in r and 'ours' in r:
        print('  %s / ours (median step time): %.3f (above 1: ours is '
              'faster)' % (name, r[name]['median_seconds_per_step'] /
                           r['ours']['median_seconds_per_step']))
    if 'torch_eager' not in r:
      print('  (PyTorch peer not timed: %s)' % (
          '--notorch' if not FLAGS.torch else 'PyTorch is not installed'))
  for name in ours:
    print('default / single thread speed-up (%s): %.2fx on %d cores' % (
        name, results['default'][name]['images_per_second'] /
        results['single'][name]['images_per_second'], os.cpu_count()))


if __name__ == '__main__':
  app.run(main)
