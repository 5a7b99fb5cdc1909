"""The benchmark scripts' contracts that need no timing."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_torch_peer_exits_cleanly_without_torch():
  """PyTorch is optional: without it the peer script says so, exits 0 and
  measures nothing (torch is hidden even where it is installed)."""
  script = os.path.join(ROOT, 'benchmarks', 'torch_peer.py')
  code = ('import runpy, sys; sys.modules["torch"] = None; '
          'sys.argv = [%r, "--threads=1"]; '
          'runpy.run_path(%r, run_name="__main__")' % (script, script))
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, timeout=300, cwd=ROOT)
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'PyTorch is not installed' in out.stdout
  assert 'threads 1' not in out.stdout


def test_train_step_keeps_its_defaults_beside_the_shared_flags():
  """train_step.py borrows inference.py's --crop and --precisions (and its
  matmul meter for the training floor) but keeps its own defaults: 321, and
  train.py's precisions float32 and mixed_bfloat16."""
  script = os.path.join(ROOT, 'benchmarks', 'train_step.py')
  out = subprocess.run([sys.executable, script, '--helpfull'],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
  help_text = out.stdout + out.stderr  # absl's --helpfull exits 1.
  assert "--crop: Square input size.\n    (default: '321')" in help_text
  assert "(default: 'float32,mixed_bfloat16')" in help_text


def test_train_step_names_a_precision_train_py_does_not_have():
  script = os.path.join(ROOT, 'benchmarks', 'train_step.py')
  out = subprocess.run([sys.executable, script, '--notorch',
                        '--precisions=float32,bfloat16'],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
  assert out.returncode != 0
  assert ('--precisions: bfloat16 is not float32, mixed_bfloat16 or '
          'mixed_float16') in out.stderr
  assert 'train step' not in out.stdout  # Nothing was timed.
