"""The benchmark scripts' contracts that need no timing."""
import json
import os
import sys

import pytest

import helpers

def test_torch_peer_exits_cleanly_without_torch():
  """PyTorch is optional: without it the peer script says so, exits 0 and
  measures nothing (torch is hidden even where it is installed)."""
  script = os.path.join(helpers.ROOT, 'benchmarks', 'torch_peer.py')
  code = ('import runpy, sys; sys.modules["torch"] = None; '
          'sys.argv = [%r, "--threads=1"]; '
          'runpy.run_path(%r, run_name="__main__")' % (script, script))
  out = helpers.run(['-c', code])
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'PyTorch is not installed' in out.stdout
  assert 'threads 1' not in out.stdout


def test_train_step_keeps_its_defaults_beside_the_shared_flags():
  """train_step.py borrows inference.py's --crop and --precisions (and its
  matmul meter for the training floor) but keeps its own defaults: 321, and
  train.py's precisions float32 and mixed_bfloat16."""
  script = os.path.join(helpers.ROOT, 'benchmarks', 'train_step.py')
  out = helpers.run([script, '--helpfull'])
  help_text = out.stdout + out.stderr  # absl's --helpfull exits 1.
  assert "--crop: Square input size.\n    (default: '321')" in help_text
  assert "(default: 'float32,mixed_bfloat16')" in help_text


def test_train_step_names_a_precision_train_py_does_not_have():
  script = os.path.join(helpers.ROOT, 'benchmarks', 'train_step.py')
  out = helpers.run([script, '--notorch', '--precisions=float32,bfloat16'])
  assert out.returncode != 0
  assert ('--precisions: bfloat16 is not float32, mixed_bfloat16 or '
          'mixed_float16') in out.stderr
  assert 'train step' not in out.stdout  # Nothing was timed.


def _speed_targets():
  """benchmarks/speed_targets.py as a module (it imports its siblings)."""
  import importlib  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, os.path.join(helpers.ROOT, 'benchmarks'))
  try:
    return importlib.import_module('speed_targets')
  finally:
    sys.path.pop(0)


def _inference_entry(graph, median, best, bf16=None):
  entry = {'graph': graph, 'median_s': median, 'best_s': best,
           'ratio_to_fp32_floor': median, 'best_ratio_to_fp32_floor': best}
  if bf16:
    entry.update(ratio_to_bf16_floor=bf16, best_ratio_to_bf16_floor=bf16)
  return entry


def test_speed_targets_judges_each_figure_against_its_own_target():
  """Each figure is read from the right script's results and compared with
  the target of its thread setting; bfloat16 targets are not judged without
  AMX, and a figure nobody measured (no PyTorch) is '-', not a pass."""
  targets = _speed_targets()
  inference = {'xception_65': {
      '1': [_inference_entry('optimized', 1.10, 1.08),
            _inference_entry('optimized_bf16', 0.30, 0.29, bf16=1.2)],
      'default': [_inference_entry('optimized', 1.20, 1.14),
                  _inference_entry('optimized_bf16', 0.50, 0.44, bf16=2.0)]}}
  step = lambda seconds: {'median_seconds_per_step': seconds,  # pylint: disable=g-long-lambda
                          'ratio_to_training_floor': seconds,
                          'ratio_to_bf16_training_floor': 2 * seconds}
  training = {'1': {'ours': step(2.0), 'ours_mixed_bfloat16': step(1.0),
                    'torch_eager': step(2.2)},
              'default': {'ours': step(1.0), 'ours_mixed_bfloat16': step(0.8),
                          'torch_eager': step(0.9)}}
  results = {'inference': inference, 'peer': {}, 'training': training}
  for has_amx in (True, False):
    rows = {r['figure']: r for r in targets.table(results, has_amx)}
    fp32 = rows['Xception-65 optimized fp32, x fp32 floor']
    assert (fp32['1']['median'], fp32['1']['best']) == (1.10, 1.08)
    assert fp32['1']['verdict'] == 'reached'  # <= 1.12
    assert fp32['default']['verdict'] == 'missed'  # 1.20 > 1.15
    bf16 = rows['Xception-65 optimized bf16, x fp32 floor']
    assert bf16['1']['verdict'] == ('reached' if has_amx else 'AMX CPUs only')
    assert bf16['default']['verdict'] == ('missed' if has_amx
                                          else 'AMX CPUs only')
    assert rows['Xception-65 optimized bf16, x bf16 floor']['default'][
        'median'] == 2.0
    peer = rows['Xception-65 torch.compile / ours (same run)']['1']
    assert (peer['median'], peer['verdict']) == (None, '-')
    mobile = rows['MobileNetV2 optimized fp32, x fp32 floor']['1']
    assert (mobile['median'], mobile['verdict']) == (None, '-')
    eager = rows['training torch eager / ours fp32 (same run)']
    assert abs(eager['1']['median'] - 1.1) < 1e-9
    assert eager['1']['verdict'] == 'reached'
    assert eager['default']['verdict'] == 'missed'  # 0.9 s vs our 1.0 s
    speedup = rows['training mixed_bfloat16 speed-up over fp32 (same run)']
    assert speedup['1']['median'] == 2.0
    assert speedup['1']['verdict'] == ('reached' if has_amx else 'AMX CPUs only')
    assert speedup['default']['verdict'] == ('missed' if has_amx
                                             else 'AMX CPUs only')
  text = targets.markdown(targets.table(results, True))
  assert ('| Xception-65 optimized fp32, x fp32 floor | 1.100 (best 1.080) '
          '| ≤ 1.12: reached | 1.200 (best 1.140) | ≤ 1.15: missed |') in text
  assert '| training fp32, x training floor | 2.000 |  | 1.000 |  |' in text
  assert len(text.splitlines()) == 2 + len(targets.ROWS)


@pytest.mark.slow
def test_speed_targets_reads_what_the_benchmarks_print():
  """The whole command at tiny sizes: every figure of the models asked for
  and of the training step comes from the real scripts' output."""
  script = os.path.join(helpers.ROOT, 'benchmarks', 'speed_targets.py')
  out = helpers.run([
      script, '--models=mobilenet_v2', '--crop=65', '--training_crop=65',
      '--runs=1', '--training_steps=1', '--notorch', '--json'], timeout=1200)
  assert out.returncode == 0, out.stderr[-3000:]
  report = json.loads(out.stdout.strip().splitlines()[-1])
  rows = {r['figure']: r for r in report['rows']}
  measured = [
      'MobileNetV2 optimized fp32, x fp32 floor',
      'MobileNetV2 optimized bf16, x fp32 floor',
      'training fp32, x training floor',
      'training mixed_bfloat16, x bf16 training floor',
      'training mixed_bfloat16 speed-up over fp32 (same run)']
  for name in measured:
    for threads in ('1', 'default'):
      assert rows[name][threads]['median'] > 0, (name, threads)
  for name in ('Xception-65 optimized fp32, x fp32 floor',
               'MobileNetV2 torch.compile / ours (same run)',
               'training torch eager / ours fp32 (same run)'):
    assert rows[name]['1']['median'] is None, name
  assert '| MobileNetV2 optimized fp32, x fp32 floor | ' in out.stdout


def test_speed_targets_names_a_model_it_does_not_have():
  script = os.path.join(helpers.ROOT, 'benchmarks', 'speed_targets.py')
  out = helpers.run([script, '--models=resnet_50'])
  assert out.returncode != 0
  assert '--models: resnet_50 is not one of xception_65, mobilenet_v2' in (
      out.stderr)
  assert 'inference.py' not in out.stdout  # Nothing was run.


def test_inference_benchmark_skips_onnx_without_the_extra(monkeypatch):
  """Without the onnx or openvino extra their rows are left out with a note
  (the measuring child would otherwise die of MissingExtraError)."""
  sys.path.insert(0, os.path.join(helpers.ROOT, 'benchmarks'))
  try:
    import inference as bench  # pylint: disable=g-import-not-at-top
  finally:
    sys.path.pop(0)
  assert bench.onnx_installed()  # The test extra installs it.
  monkeypatch.setitem(sys.modules, 'onnx', None)  # Not installed.
  assert not bench.onnx_installed()
  assert bench.openvino_installed()
  monkeypatch.setitem(sys.modules, 'openvino', None)
  assert not bench.openvino_installed()
