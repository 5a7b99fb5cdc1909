"""DeepLabv3+ for TensorFlow 2 / Keras 3.

A reimplementation of the original TF1 DeepLab (tensorflow/models,
research/deeplab) whose layer and weight names follow the original variable
scopes, so the original checkpoints map onto it by name.
"""
import os as _os
import re as _re
import sys as _sys
import tempfile as _tempfile

__version__ = '0.1.0'

# TensorFlow's start-up lines that say nothing about this run: the CPU
# banner, CUDA stubs on a machine without NVIDIA's driver, factory
# registrations. They are written by C++ straight to file descriptor 2 (some
# before TensorFlow's own log level applies), so they are filtered there.
_NOISE = _re.compile(
    r'All log messages before absl::InitializeLog|cudart_stub\.cc|'
    r'Could not find cuda drivers|cpu_feature_guard\.cc|'
    r'^To enable the following instructions|oneDNN custom operations are on|'
    r'Unable to register cu(DNN|FFT|BLAS) factory|'
    r'computation placer already registered|Could not find TensorRT')
# Without NVIDIA's driver, TensorFlow's GPU build still tries CUDA once and
# logs its failure as an error; with the driver, that line is a real error.
_NO_GPU_DRIVER = _re.compile(r'failed call to cuInit')


class filtered_stderr:  # pylint: disable=invalid-name
  """Drops lines matching `noise` from what C++ and Python write to stderr
  (file descriptor 2) inside the block; everything else is passed on."""

  def __init__(self, noise):
    self.noise = noise

  def __enter__(self):
    try:
      _sys.stderr.flush()
      self.saved = _os.dup(2)
    except (OSError, ValueError, AttributeError):
      self.saved = None  # No file descriptor 2: nothing to filter.
      return self
    self.captured = _tempfile.TemporaryFile(mode='w+b')
    _os.dup2(self.captured.fileno(), 2)
    return self

  def __exit__(self, *exc):
    if self.saved is None:
      return False
    _sys.stderr.flush()
    _os.dup2(self.saved, 2)
    _os.close(self.saved)
    self.captured.seek(0)
    lines = self.captured.read().decode('utf-8', 'replace').splitlines(True)
    self.captured.close()
    kept = ''.join(line for line in lines if not self.noise.search(line))
    if kept:
      _sys.stderr.write(kept)
      _sys.stderr.flush()
    return False


# TensorFlow's oneDNN build logs once per process, as an error, that it runs
# int32 element-wise ops with Eigen; it does so on every CPU, AVX-512 or not,
# and it says nothing about the run. `quiet_int32_notice` spends that one
# line inside a filter before a command's first inference.
_INT32_NOTICE = _re.compile(r'oneDNN supports DT_INT32 only on platforms')
_int32_notice_spent = []


def quiet_int32_notice():
  """Runs one int32 graph op with the oneDNN notice filtered (once)."""
  if _int32_notice_spent or _os.environ.get('DEEPLAB_TF_STARTUP_LOGS'):
    return
  _int32_notice_spent.append(True)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with filtered_stderr(_INT32_NOTICE):
    tf.function(lambda x: tf.transpose(x * 3 + x))(tf.ones([2, 2], tf.int32))


def _import_tensorflow_quietly():
  """Imports TensorFlow with its start-up chatter filtered out of stderr.

  Anything else it prints (real warnings and errors) is passed through.
  `DEEPLAB_TF_STARTUP_LOGS=1` keeps everything.
  """
  if 'tensorflow' in _sys.modules or _os.environ.get(
      'DEEPLAB_TF_STARTUP_LOGS'):
    return
  # INFO lines of TensorFlow's C++ logging; warnings and errors stay.
  _os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  noise = _NOISE if _os.path.exists('/proc/driver/nvidia') else _re.compile(
      _NOISE.pattern + '|' + _NO_GPU_DRIVER.pattern)
  with filtered_stderr(noise):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.list_physical_devices()  # Initialises the platforms.


_import_tensorflow_quietly()


def from_preset(name_or_folder, output_stride=None, **kwargs):
  """A ready inference model of a model-zoo name or a checkpoint folder
  (`deeplab.zoo.from_preset`)::

      import deeplab
      model = deeplab.from_preset('mobilenetv2_coco_voc_trainaug')
      labels = model.segment(image)  # uint8 [H, W, 3] -> int32 [H, W]
  """
  from deeplab import zoo  # pylint: disable=g-import-not-at-top
  return zoo.from_preset(name_or_folder, output_stride, **kwargs)
