r"""Every figure of the speed targets, measured in one go, as a README table.

  python benchmarks/speed_targets.py [--runs=9] [--training_steps=5]
      [--crop=513] [--training_crop=321] [--models=xception_65,mobilenet_v2]
      [--notorch] [--json]

One command for the whole performance table, so that a host with the
hardware the targets need (AMX-BF16 for the bfloat16 ones) measures them all
at once. It runs, each thread setting (one pinned core; all cores) in fresh
processes as the scripts themselves do:
  * `inference.py` (Xception-65 DeepLabv3+ and MobileNetV2 DeepLabv3,
    float32 and bfloat16 optimized graphs; no SavedModel, ONNX or TFLite):
    each graph against the fp32 FLOP floor of its own run;
  * `torch_peer.py` (both models, with PyTorch installed): the compiled peer
    against the floor and against our optimized graph, in one run;
  * `train_step.py` (Xception-65, float32 and mixed_bfloat16, the PyTorch
    peer when installed): each step against the training floor, the peer
    against ours and mixed_bfloat16's speed-up over float32, in one run.
It then prints the CPU and its low-precision units and a Markdown table of
the figures (median, and best in brackets where the script reports one)
beside their targets: `reached`, `missed`, or `AMX CPUs only` where a bfloat16
target is measured on a CPU without AMX-BF16 (the figure is still shown).
A figure that could not be measured (PyTorch missing) reads `-`.
With --json the rows are also printed as one JSON object.
"""
import json
import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import inference as bench  # pylint: disable=g-import-not-at-top,wrong-import-position
import torch_peer  # pylint: disable=g-import-not-at-top,wrong-import-position

flags.DEFINE_integer('training_steps', 5, 'Timed training steps.')
flags.DEFINE_integer('training_crop', 321, 'Square crop of the training '
                     'step.')
flags.DEFINE_list('models', ['xception_65', 'mobilenet_v2'],
                  'Inference models to measure (the training step is '
                  'Xception-65\'s).')
flags.DEFINE_bool('torch', True, 'Also time the PyTorch peers (when '
                  'installed).')
FLAGS = flags.FLAGS

HERE = os.path.dirname(os.path.abspath(__file__))
THREADS = ('1', 'default')  # One pinned core; TensorFlow's default, all.
NAMES = {'xception_65': 'Xception-65', 'mobilenet_v2': 'MobileNetV2'}

# (figure, where it comes from, target per thread setting as (op, bound) or
# None, whether the target needs AMX-BF16). A source is (kind, model, graph,
# key): kind 'inference' / 'peer' reads the graph's entry of that script's
# results, 'training' the training step's; key 'torch/ours' is the peer's
# median time over ours in the same run, 'speed-up' float32's median step
# time over mixed_bfloat16's.
ROWS = (
    ('{m} optimized fp32, x fp32 floor', ('inference', 'xception_65',
                                          'optimized', 'ratio'),
     {'1': ('<=', 1.12), 'default': ('<=', 1.15)}, False),
    ('{m} torch.compile, x fp32 floor', ('peer', 'xception_65',
                                         'torch_compiled', 'ratio'),
     None, False),
    ('{m} torch.compile / ours (same run)', ('peer', 'xception_65',
                                             'torch_compiled', 'torch/ours'),
     {'1': ('>=', 1.0), 'default': ('>=', 1.0)}, False),
    ('{m} optimized bf16, x fp32 floor', ('inference', 'xception_65',
                                          'optimized_bf16', 'ratio'),
     {'1': ('<=', 0.38), 'default': ('<=', 0.45)}, True),
    ('{m} optimized bf16, x bf16 floor', ('inference', 'xception_65',
                                          'optimized_bf16', 'bf16_ratio'),
     None, False),
    ('{m} optimized fp32, x fp32 floor', ('inference', 'mobilenet_v2',
                                          'optimized', 'ratio'),
     {'1': ('<=', 1.45), 'default': ('<=', 1.7)}, False),
    ('{m} torch.compile / ours (same run)', ('peer', 'mobilenet_v2',
                                             'torch_compiled', 'torch/ours'),
     None, False),
    ('{m} optimized bf16, x fp32 floor', ('inference', 'mobilenet_v2',
                                          'optimized_bf16', 'ratio'),
     {'1': ('<=', 0.8), 'default': ('<=', 0.8)}, True),
    ('training fp32, x training floor', ('training', 'xception_65', 'ours',
                                         'ratio'), None, False),
    ('training torch eager / ours fp32 (same run)',
     ('training', 'xception_65', 'torch_eager', 'torch/ours'),
     {'1': ('>=', 1.0), 'default': ('>=', 1.0)}, False),
    ('training torch.compile / ours fp32 (same run)',
     ('training', 'xception_65', 'torch_compiled', 'torch/ours'), None,
     False),
    ('training mixed_bfloat16, x bf16 training floor',
     ('training', 'xception_65', 'ours_mixed_bfloat16', 'bf16_ratio'), None,
     False),
    ('training mixed_bfloat16 speed-up over fp32 (same run)',
     ('training', 'xception_65', 'ours_mixed_bfloat16', 'speed-up'),
     {'1': ('>=', 1.8), 'default': ('>=', 1.8)}, True),
)


def figure(results, source, threads):
  """(median, best or None) of one row's figure, or None if not measured.

  Args:
    results: {'inference' | 'peer': {model: {threads: [entries]}},
      'training': {threads: result}}, as `measure` returns (parts may be
      missing).
    source: a row's (kind, model, graph, key).
    threads: '1' or 'default'.
  """
  kind, model, graph, key = source
  if kind == 'training':
    run = results.get('training', {}).get(threads)
    if not run or graph not in run or 'ours' not in run:
      return None
    entry, ours = run[graph], run['ours']
    if key == 'ratio':
      return entry['ratio_to_training_floor'], None
    if key == 'bf16_ratio':
      return entry['ratio_to_bf16_training_floor'], None
    if key == 'torch/ours':
      return (entry['median_seconds_per_step'] /
              ours['median_seconds_per_step'], None)
    return (ours['median_seconds_per_step'] /
            entry['median_seconds_per_step'], None)  # speed-up
  entries = {e['graph']: e for e in results.get(kind, {}).get(
      model, {}).get(threads, [])}
  if graph not in entries:
    return None
  entry = entries[graph]
  if key == 'ratio':
    return entry['ratio_to_fp32_floor'], entry['best_ratio_to_fp32_floor']
  if key == 'bf16_ratio':
    return entry['ratio_to_bf16_floor'], entry['best_ratio_to_bf16_floor']
  ours = entries['ours_optimized']  # key 'torch/ours'
  return (entry['median_s'] / ours['median_s'],
          entry['best_s'] / ours['best_s'])


def table(results, has_amx):
  """The rows: dicts with the figure's name, and per thread setting its
  median, best, target and verdict ('reached', 'missed', 'AMX CPUs only', or
  None without a target; '-' where not measured)."""
  rows = []
  for name, source, targets, needs_amx in ROWS:
    row = {'figure': name.format(m=NAMES[source[1]])}
    for threads in THREADS:
      value = figure(results, source, threads)
      target = (targets or {}).get(threads)
      cell = {'median': None, 'best': None, 'target': target,
              'verdict': None}
      if value is None:
        cell['verdict'] = '-' if target else None
      else:
        cell['median'], cell['best'] = value
        if target:
          op, bound = target
          ok = value[0] <= bound if op == '<=' else value[0] >= bound
          cell['verdict'] = ('AMX CPUs only' if needs_amx and not has_amx else
                             'reached' if ok else 'missed')
      row[threads] = cell
    rows.append(row)
  return rows


def markdown(rows):
  """The rows as a Markdown table: figure, then per thread setting the
  value and its target."""
  lines = ['| | 1 thread | target | 2 threads | target |',
           '|---|---|---|---|---|']
  for row in rows:
    cells = [row['figure']]
    for threads in THREADS:
      cell = row[threads]
      if cell['median'] is None:
        cells.append('-')
      else:
        cells.append('%.3f%s' % (cell['median'], '' if cell['best'] is None
                                 else ' (best %.3f)' % cell['best']))
      cells.append('' if cell['target'] is None else '%s %s: %s' % (
          cell['target'][0].replace('<=', '≤').replace('>=', '≥'),
          cell['target'][1], cell['verdict']))
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def _run(script, threads, args, label):
  """One child of `script` (as `inference.run_child`); prints what ran,
  its fp32 matmul rate (the floor's) and the CPU time stolen meanwhile, so
  that a slow spell shows beside the figures."""
  results, steal = bench.run_child(os.path.join(HERE, script), threads, args)
  first = results if isinstance(results, dict) else results[0]
  print('%s, %s: fp32 matmul %.1f GFLOP/s; CPU time stolen by the '
        'hypervisor %s' % (script, label, first['fp32_matmul_gflops'],
                           'unknown' if steal is None else
                           '%.1f%%' % (100 * steal)), flush=True)
  return results


def measure():
  """Runs the three benchmarks' children; their results by kind."""
  results = {'inference': {}, 'peer': {}, 'training': {}}
  peer = FLAGS.torch and torch_peer.torch_available()
  for model in FLAGS.models:
    for threads in THREADS:
      common = ['--runs=%d' % FLAGS.runs, '--crop=%d' % FLAGS.crop,
                '--model_variant=' + model]
      label = '%s, threads %s' % (model, threads)
      results['inference'].setdefault(model, {})[threads] = [
          r for r in _run('inference.py', threads, common + [
              '--precisions=float32,bfloat16', '--noserving', '--noonnx',
              '--noonnx_int8', '--noopenvino', '--notflite'], label)
          if r['graph'] != 'head']
      if peer:
        results['peer'].setdefault(model, {})[threads] = _run(
            'torch_peer.py', threads, common, label)
  for threads, child in zip(THREADS, ('single', 'default')):
    results['training'][threads] = _run(
        'train_step.py', child, [
            '--crop=%d' % FLAGS.training_crop,
            '--steps=%d' % FLAGS.training_steps,
            '--precisions=float32,mixed_bfloat16',
            '--torch' if FLAGS.torch else '--notorch'],
        'xception_65, threads %s' % threads)
  return results


def main(unused_argv):
  unknown = sorted(set(FLAGS.models) - set(NAMES))
  if unknown or not FLAGS.models:
    raise app.UsageError('--models: %s is not one of %s.' % (
        ', '.join(unknown) or 'an empty list', ', '.join(NAMES)))
  model, features = bench.cpu_features()
  print('CPU: %s; %s' % (model, ', '.join(
      '%s %s' % (k, 'yes' if v else 'no') for k, v in features.items())))
  results = measure()
  rows = table(results, features['amx_bf16'])
  print('\nInference at %dx%d, batch 1, median of %d interleaved runs (best '
        'in brackets); training step at crop %d, batch 2, median of %d '
        'steps; "x floor": the latency over the FLOP floor of the same run; '
        '"a / b": the ratio of their median times in one run.\n' % (
            FLAGS.crop, FLAGS.crop, FLAGS.runs, FLAGS.training_crop,
            FLAGS.training_steps))
  print(markdown(rows))
  if FLAGS.json:
    print(json.dumps({'cpu': model, 'features': features, 'rows': rows}))


if __name__ == '__main__':
  app.run(main)
