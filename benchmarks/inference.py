r"""Inference latency of Xception-65 DeepLabv3+ (OS16, decoder) at 513x513.

  python benchmarks/inference.py [--runs=5]

For each thread setting (single thread pinned to one core; TensorFlow's
default threads) a fresh process measures, in the same run:
  * the machine's fp32 matmul rate (2048x2048 matmuls, best of several);
  * the FLOP floor: 108.3 GFLOP (2 x the paper-convention Mul-Adds of this
    model at 513x513) divided by that rate;
  * the model's latency (median of `--runs` after warm-up), batch 1, the
    evaluation graph (`build_inference_model`, compiled with tf.function,
    XLA off);
  * the ratio latency / floor, and the process's peak memory (max RSS).
"""
import json
import os
import resource
import subprocess
import sys
import time

from absl import app
from absl import flags

flags.DEFINE_integer('runs', 5, 'Timed runs (median reported).')
flags.DEFINE_integer('crop', 513, 'Square input size.')
flags.DEFINE_string('_child', None, 'Internal: run one configuration.')
FLAGS = flags.FLAGS

MODEL_GFLOP = 108.3


def _measure(threads):
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
  matmul(a, b).numpy()
  best = float('inf')
  for _ in range(5):
    start = time.perf_counter()
    matmul(a, b).numpy()
    best = min(best, time.perf_counter() - start)
  gflops = 2 * n ** 3 / best / 1e9

  crop = (FLAGS.crop, FLAGS.crop)
  options = common.ModelOptions(
      model_variant='xception_65', crop_size=crop, output_stride=16,
      atrous_rates=(6, 12, 18), decoder_output_stride=(4,))
  model = model_lib.build_inference_model(options)
  predict = tf.function(lambda x: model(x, training=False)['predictions'],
                        jit_compile=False)
  image = tf.constant(np.random.RandomState(0).uniform(
      0, 255, (1,) + crop + (3,)).astype(np.float32))
  predict(image).numpy()
  times = []
  for _ in range(FLAGS.runs):
    start = time.perf_counter()
    predict(image).numpy()
    times.append(time.perf_counter() - start)
  latency = float(np.median(times))
  floor = MODEL_GFLOP / gflops
  return {'threads': threads, 'matmul_gflops': gflops, 'floor_s': floor,
          'latency_s': latency, 'ratio': latency / floor,
          'peak_rss_mb': resource.getrusage(
              resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(unused_argv):
  if FLAGS._child:  # pylint: disable=protected-access
    print('RESULT ' + json.dumps(_measure(FLAGS._child)))  # pylint: disable=protected-access
    return
  for threads in ('single', 'default'):
    cmd = [sys.executable, os.path.abspath(__file__), '--_child=' + threads,
           '--runs=%d' % FLAGS.runs, '--crop=%d' % FLAGS.crop]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
    out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                         check=True).stdout
    r = json.loads([l for l in out.splitlines()
                    if l.startswith('RESULT ')][-1][len('RESULT '):])
    print('%-7s threads: xception_65 OS16+decoder %dx%d batch 1: %.3f s '
          '(median of %d); fp32 matmul %.1f GFLOP/s -> floor %.3f s '
          '(%.1f GFLOP); ratio %.2fx the floor; peak RSS %.0f MB'
          % (threads, FLAGS.crop, FLAGS.crop, r['latency_s'], FLAGS.runs,
             r['matmul_gflops'], r['floor_s'], MODEL_GFLOP, r['ratio'],
             r['peak_rss_mb']), flush=True)


if __name__ == '__main__':
  app.run(main)
