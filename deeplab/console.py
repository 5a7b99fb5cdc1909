"""What reaches the console: TensorFlow's start-up chatter filtered out.

TensorFlow's C++ runtime writes lines that say nothing about a run (the CPU
banner, CUDA stubs on a machine without NVIDIA's driver, factory
registrations) straight to file descriptor 2, some before its own log level
applies. `install` arranges for the first `import tensorflow` in the process
(whichever module makes it, whenever it happens) to run with those lines
filtered; importing `deeplab` installs it, and imports no TensorFlow itself,
so commands that need none (`--help`, `deeplab-zoo --list`) start at once.
Anything else TensorFlow prints (real warnings and errors) is passed
through; `DEEPLAB_TF_STARTUP_LOGS=1` keeps everything.

The commands log at INFO (this project's progress); `quiet_library_info`
keeps the INFO lines of TensorFlow's, Keras' and the converters' own modules
(SavedModel input renaming, checkpoint sharding, fingerprints) off the
console, where they say nothing to a user; their warnings stay.
"""
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile

_NOISE = re.compile(
    r'All log messages before absl::InitializeLog|cudart_stub\.cc|'
    r'Could not find cuda drivers|cpu_feature_guard\.cc|'
    r'^To enable the following instructions|oneDNN custom operations are on|'
    r'Unable to register cu(DNN|FFT|BLAS) factory|'
    r'computation placer already registered|Could not find TensorRT')
# Without NVIDIA's driver, TensorFlow's GPU build still tries CUDA once and
# logs its failure as an error; with the driver, that line is a real error.
_NO_GPU_DRIVER = re.compile(r'failed call to cuInit')
# TensorFlow's oneDNN build logs once per process, as an error, that it runs
# int32 element-wise ops with Eigen; it does so on every CPU, AVX-512 or not,
# and it says nothing about the run.
_INT32_NOTICE = re.compile(r'oneDNN supports DT_INT32 only on platforms')
_KEEP_ALL = 'DEEPLAB_TF_STARTUP_LOGS'


class filtered_stderr:  # pylint: disable=invalid-name
  """Drops lines matching `noise` from what C++ and Python write to stderr
  (file descriptor 2) inside the block; everything else is passed on."""

  def __init__(self, noise):
    self.noise = noise

  def __enter__(self):
    try:
      sys.stderr.flush()
      self.saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
      self.saved = None  # No file descriptor 2: nothing to filter.
      return self
    self.captured = tempfile.TemporaryFile(mode='w+b')
    os.dup2(self.captured.fileno(), 2)
    return self

  def __exit__(self, *exc):
    if self.saved is None:
      return False
    sys.stderr.flush()
    os.dup2(self.saved, 2)
    os.close(self.saved)
    self.captured.seek(0)
    lines = self.captured.read().decode('utf-8', 'replace').splitlines(True)
    self.captured.close()
    kept = ''.join(line for line in lines if not self.noise.search(line))
    if kept:
      sys.stderr.write(kept)
      sys.stderr.flush()
    return False


def _startup_noise():
  if os.path.exists('/proc/driver/nvidia'):
    return _NOISE
  return re.compile(_NOISE.pattern + '|' + _NO_GPU_DRIVER.pattern)


class _QuietLoader(importlib.abc.Loader):
  """TensorFlow's own loader, run with the start-up chatter filtered (what
  else is asked of a loader, e.g. its resources, is the real loader's)."""

  def __init__(self, loader):
    self.loader = loader

  def __getattr__(self, name):
    return getattr(self.loader, name)

  def create_module(self, spec):
    return self.loader.create_module(spec)

  def exec_module(self, module):
    with filtered_stderr(_startup_noise()):
      self.loader.exec_module(module)
      module.config.list_physical_devices()  # Initialises the platforms.


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
  """Finds `tensorflow` once, with a loader that filters its start-up."""

  def find_spec(self, name, path=None, target=None):
    if name != 'tensorflow':
      return None
    uninstall()
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.loader is not None:
      spec.loader = _QuietLoader(spec.loader)
    return spec


_FINDER = _QuietTensorFlowFinder()


def install():
  """Makes the process's first `import tensorflow` a quiet one (once)."""
  if 'tensorflow' in sys.modules or os.environ.get(_KEEP_ALL):
    return
  # INFO lines of TensorFlow's C++ logging; warnings and errors stay.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  if _FINDER not in sys.meta_path:
    sys.meta_path.insert(0, _FINDER)


def uninstall():
  if _FINDER in sys.meta_path:
    sys.meta_path.remove(_FINDER)


_int32_notice_spent = []


def quiet_int32_notice():
  """Runs one int32 graph op with oneDNN's int32 notice filtered (once), so
  that a command's first inference does not print it."""
  if _int32_notice_spent or os.environ.get(_KEEP_ALL):
    return
  _int32_notice_spent.append(True)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with filtered_stderr(_INT32_NOTICE):
    tf.function(lambda x: tf.transpose(x * 3 + x))(tf.ones([2, 2], tf.int32))


# The modules of libraries whose INFO lines are their internals.
_LIBRARY_PATH = re.compile(
    r'[/\\](tensorflow|keras|tf_keras|tf2onnx|tensorflow_datasets|onnx|'
    r'onnxruntime)[/\\]')


class LibraryInfoFilter(logging.Filter):
  """Passes warnings and errors, and INFO lines of anything but the
  libraries' own modules."""

  def filter(self, record):
    return (record.levelno >= logging.WARNING or
            not _LIBRARY_PATH.search(record.pathname or ''))


def quiet_library_info():
  """Keeps the libraries' INFO lines off the console (absl's handler, which
  TensorFlow logs through, and TensorFlow's own logger)."""
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  handler = absl_logging.get_absl_handler()
  if not any(isinstance(f, LibraryInfoFilter) for f in handler.filters):
    handler.addFilter(LibraryInfoFilter())
  logging.getLogger('tensorflow').setLevel(logging.WARNING)
