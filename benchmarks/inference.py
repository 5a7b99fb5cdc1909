r"""Inference latency of Xception-65 DeepLabv3+ (OS16, decoder) at 513x513.

  python benchmarks/inference.py [--runs=7] [--dilated_depthwise=auto]

For each thread setting (single thread pinned to one core; TensorFlow's
default threads) a fresh process measures, in the same run:
  * the machine's fp32 matmul rate (a 2048x2048 matmul before each model
    run, so both see the same state of a shared machine; median);
  * the FLOP floor: 108.3 GFLOP (2 x the paper-convention Mul-Adds of this
    model at 513x513) divided by that rate;
  * the latency (median of `--runs` after warm-up), batch 1, of the
    prediction of two graphs with the same weights, compiled with
    tf.function, XLA off (XLA's CPU backend does not use oneDNN here):
      - optimized: `build_inference_model(fold_batch_norm=True)`: BatchNorm
        folded into the convs, 1x1 convs as fused matmuls, dilated depthwise
        convs native or by space_to_batch per rate (`core/folding.py`);
      - plain: the Keras graph as trained (conv, BatchNorm, ReLU layers);
  * each latency's ratio to the floor (and best latency / best-rate floor),
    the agreement of their predictions, and the process's peak memory (max
    RSS) at the end.
"""
import json
import os
import resource
import subprocess
import sys
import time

from absl import app
from absl import flags

flags.DEFINE_integer('runs', 9, 'Timed runs per graph (median reported).')
flags.DEFINE_integer('crop', 513, 'Square input size.')
flags.DEFINE_enum('dilated_depthwise', 'auto',
                  ['auto', 'native', 'space_to_batch'],
                  'How the optimized graph runs dilated depthwise convs.')
flags.DEFINE_string('_child', None, 'Internal: run one configuration.')
FLAGS = flags.FLAGS

MODEL_GFLOP = 108.3


def _measure(threads):
  """Runs in the child: matmul rate, then both graphs' latencies."""
  if threads == 'single':
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if threads == 'single':
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
  from deeplab import common  # pylint: disable=g-import-not-at-top
  from deeplab import model as model_lib  # pylint: disable=g-import-not-at-top

  n = 2048
  a = tf.random.normal([n, n])
  b = tf.random.normal([n, n])
  matmul = tf.function(lambda x, y: tf.matmul(x, y))

  def matmul_rate():
    start = time.perf_counter()
    matmul(a, b).numpy()
    return 2 * n ** 3 / (time.perf_counter() - start) / 1e9

  crop = (FLAGS.crop, FLAGS.crop)
  options = common.ModelOptions(
      model_variant='xception_65', crop_size=crop, output_stride=16,
      atrous_rates=(6, 12, 18), decoder_output_stride=(4,))
  plain = model_lib.build_inference_model(options)
  optimized = model_lib.fold_batch_norm(
      plain, dilated_depthwise=FLAGS.dilated_depthwise)
  image = tf.constant(np.random.RandomState(0).uniform(
      0, 255, (1,) + crop + (3,)).astype(np.float32))
  graphs = {}
  for name, model in (('optimized', optimized), ('plain', plain)):
    graphs[name] = tf.function(lambda x, m=model: m(x, training=False)[
        'predictions'], jit_compile=False)
  predictions = {name: g(image).numpy() for name, g in graphs.items()}
  for _ in range(2):  # Warm-up: oneDNN primitives, allocator, caches.
    matmul_rate()
    for g in graphs.values():
      g(image).numpy()
  # Interleaved samples: a slow spell of a shared machine hits the matmul
  # rate and the model alike, so the ratio compares like with like.
  rates, times = [], {name: [] for name in graphs}
  for _ in range(FLAGS.runs):
    for name, g in graphs.items():
      rates.append(matmul_rate())
      start = time.perf_counter()
      g(image).numpy()
      times[name].append(time.perf_counter() - start)
  floor = MODEL_GFLOP / float(np.median(rates))
  best_floor = MODEL_GFLOP / max(rates)
  result = {'threads': threads, 'matmul_gflops': float(np.median(rates)),
            'matmul_gflops_best': max(rates), 'floor_s': floor}
  for name, samples in times.items():
    latency = float(np.median(samples))
    result[name] = {'latency_s': latency, 'ratio': latency / floor,
                    'best_s': min(samples),
                    'best_ratio': min(samples) / best_floor}
  result['agreement'] = float(
      (predictions['optimized'] == predictions['plain']).mean())
  result['peak_rss_mb'] = resource.getrusage(
      resource.RUSAGE_SELF).ru_maxrss / 1024
  return result


def main(unused_argv):
  if FLAGS._child:  # pylint: disable=protected-access
    print('RESULT ' + json.dumps(_measure(FLAGS._child)))  # pylint: disable=protected-access
    return
  print('xception_65 OS16 + decoder, %dx%d, batch 1, median of %d runs; '
        'floor = %.1f GFLOP / fp32 matmul rate measured in the same process'
        % (FLAGS.crop, FLAGS.crop, FLAGS.runs, MODEL_GFLOP), flush=True)
  for threads in ('single', 'default'):
    cmd = [sys.executable, os.path.abspath(__file__), '--_child=' + threads,
           '--runs=%d' % FLAGS.runs, '--crop=%d' % FLAGS.crop,
           '--dilated_depthwise=' + FLAGS.dilated_depthwise]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
    out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                         check=True).stdout
    r = json.loads([l for l in out.splitlines()
                    if l.startswith('RESULT ')][-1][len('RESULT '):])
    print('%-7s threads: matmul %.1f GFLOP/s -> floor %.3f s | optimized '
          '%.3f s = %.2fx the floor (best %.2fx) | plain Keras %.3f s = '
          '%.2fx (best %.2fx) | predictions agree %.4f%% | peak RSS %.0f MB'
          % (threads, r['matmul_gflops'], r['floor_s'],
             r['optimized']['latency_s'], r['optimized']['ratio'],
             r['optimized']['best_ratio'], r['plain']['latency_s'],
             r['plain']['ratio'], r['plain']['best_ratio'],
             100 * r['agreement'], r['peak_rss_mb']), flush=True)


if __name__ == '__main__':
  app.run(main)
