r"""Where the inference graph's time goes, op by op, on one core and on all.

  python benchmarks/op_profile.py [--model_variant=xception_65|mobilenet_v2]
      [--precision=float32|bfloat16] [--runs=5] [--top=12]

The optimized graph of `benchmarks/inference.py` (BatchNorm folded, the
same random trained-like weights, 513x513) is frozen and run in a TF1
session with full tracing, once pinned to one core on one thread and once
with TensorFlow's default threads, each in a fresh process. Per op: the
median of its traced time over `--runs` runs. Printed: each op type's
total on one core and on all, and how much faster it is on all ("scaling";
the 2048x2048 matmul, in the graph's precision, is the yardstick: what the
work could reach), then
the ops of the kinds that scale worst, largest first. Traced times add a
little overhead per op; the session's untraced median is printed beside
them. For finding what keeps the graph from scaling, not for headline
figures (those come from `benchmarks/inference.py`).
"""
import collections
import json
import os
import sys
import tempfile
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import inference as bench  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_integer('top', 12, 'Ops listed in the worst-scaling kinds.')
flags.DEFINE_enum('precision', 'float32', ['float32', 'bfloat16'],
                  'Precision of the optimized graph (`--inference_precision`).')


def _profile(threads):
  """Runs in the child: untraced median, matmul rate, per-op medians."""
  tf = bench.configure_threads(threads)
  import numpy as np  # pylint: disable=g-import-not-at-top
  from tensorflow.python.framework import convert_to_constants  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import

  options = bench.model_options()
  rng = np.random.RandomState(0)
  checkpoint = bench.trained_like_checkpoint(options, rng, tempfile.mkdtemp())
  folded = bench.load(options, checkpoint,
                      inference_precision=FLAGS.precision)
  fn = tf.function(lambda x: folded(x, training=False)['predictions'])
  frozen = convert_to_constants.convert_variables_to_constants_v2(
      fn.get_concrete_function(tf.TensorSpec((1,) + options.crop_size + (3,),
                                             tf.float32)))
  graph = tf.Graph()
  with graph.as_default():
    tf.graph_util.import_graph_def(frozen.graph.as_graph_def(), name='')
  count = 1 if threads == '1' else 0  # 0: TensorFlow's default.
  session = tf.compat.v1.Session(graph=graph, config=tf.compat.v1.ConfigProto(
      intra_op_parallelism_threads=count,
      inter_op_parallelism_threads=count or FLAGS.inter_op_threads))
  feed = {frozen.inputs[0].name: rng.uniform(
      0, 255, (1,) + options.crop_size + (3,)).astype(np.float32)}
  fetch = frozen.outputs[0].name
  rate = bench.matmul_rate_meter((FLAGS.precision,))
  for _ in range(2):
    session.run(fetch, feed)
  untraced, rates, per_op = [], [], collections.defaultdict(list)
  kinds = {}
  for _ in range(FLAGS.runs):
    rates.append(rate(FLAGS.precision))
    start = time.perf_counter()
    session.run(fetch, feed)
    untraced.append(time.perf_counter() - start)
    metadata = tf.compat.v1.RunMetadata()
    session.run(fetch, feed, options=tf.compat.v1.RunOptions(
        trace_level=tf.compat.v1.RunOptions.FULL_TRACE),
                run_metadata=metadata)
    for device in metadata.step_stats.dev_stats:
      for node in device.node_stats:
        if node.node_name.startswith('_') or ' = ' not in node.timeline_label:
          continue
        kinds[node.node_name] = node.timeline_label.split(' = ')[1].split(
            '(')[0]
        per_op[node.node_name].append(node.op_end_rel_micros / 1e6)
  return {'untraced_s': float(np.median(untraced)),
          'matmul_gflops': float(np.median(rates)),
          'ops': {name: [kinds[name], float(np.median(times))]
                  for name, times in per_op.items()}}


def main(unused_argv):
  if FLAGS._child:  # pylint: disable=protected-access
    print('RESULT ' + json.dumps(_profile(FLAGS._child)))  # pylint: disable=protected-access
    return
  model, _ = bench.cpu_features()
  print('CPU: %s; %s %s, %dx%d, batch 1, median of %d traced runs per op' % (
      model, FLAGS.model_variant, FLAGS.precision, FLAGS.crop, FLAGS.crop,
      FLAGS.runs))
  runs = {}
  for threads in ('1', 'default'):
    runs[threads], steal = bench.run_child(__file__, threads, [
        '--runs=%d' % FLAGS.runs, '--crop=%d' % FLAGS.crop,
        '--model_variant=' + FLAGS.model_variant,
        '--precision=' + FLAGS.precision,
        '--inter_op_threads=%d' % FLAGS.inter_op_threads])
    print('threads %s: untraced %.4f s, 2048x2048 matmul %.1f GFLOP/s; CPU '
          'time stolen %s' % (threads, runs[threads]['untraced_s'],
                              runs[threads]['matmul_gflops'],
                              'unknown' if steal is None else
                              '%.1f%%' % (100 * steal)))
  one, all_ = runs['1'], runs['default']
  print('scaling from one core to all: graph %.2fx, matmul %.2fx' % (
      one['untraced_s'] / all_['untraced_s'],
      all_['matmul_gflops'] / one['matmul_gflops']))
  totals = collections.defaultdict(lambda: [0.0, 0.0])
  for name, (kind, seconds) in one['ops'].items():
    if name in all_['ops']:
      totals[kind][0] += seconds
      totals[kind][1] += all_['ops'][name][1]
  print('%-40s %10s %10s %8s' % ('op type', '1 core ms', 'all ms', 'scaling'))
  for kind, (t1, tn) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
    if tn >= 1e-3:
      print('%-40s %10.1f %10.1f %7.2fx' % (kind, 1e3 * t1, 1e3 * tn,
                                            t1 / max(tn, 1e-9)))
  worst = [(name, kind, seconds, all_['ops'][name][1])
           for name, (kind, seconds) in one['ops'].items()
           if name in all_['ops'] and all_['ops'][name][1] >= 5e-4]
  worst.sort(key=lambda r: r[2] / r[3])
  print('ops scaling worst (of those >= 0.5 ms on all cores):')
  for name, kind, t1, tn in worst[:FLAGS.top]:
    print('  %7.2f -> %7.2f ms %5.2fx  %s  %s' % (1e3 * t1, 1e3 * tn, t1 / tn,
                                                  kind, name[-70:]))


if __name__ == '__main__':
  app.run(main)
