"""How much memory whole-image inference takes, and how much there is.

`inference.plan` segments an image whole when its estimate fits the memory
budget (`InferenceOptions.memory_budget_mb`, by default half of this
machine's memory) and in tiles when it does not. The estimate comes from
the model's own graph: traced once at a fixed size, the largest set of
tensors alive at one time (each freed after its last use, as TensorFlow's
executor does) gives the bytes a pixel costs, so it follows the backbone,
the decoder, the classes and every eval scale and flip.
"""
import os
import weakref

import numpy as np
import tensorflow as tf

# The side of the square the graph is traced at: large enough that the
# fixed costs of small maps (atrous padding, image pooling) do not count.
PROBE_SIDE = 513
# The allocator's slack over the tensors alive at the peak (measured: the
# simulated peak is 0.76x to 1.0x the resident growth of a whole-image run).
ALLOCATOR_MARGIN = 1.3
# Budget when the machine's memory cannot be read.
FALLBACK_MEMORY_MB = 8192

_BYTES_PER_PIXEL = weakref.WeakKeyDictionary()


def machine_memory_mb():
  """This machine's memory in MB (a container's limit where it is lower),
  or None when it cannot be read."""
  try:
    total = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
  except (AttributeError, ValueError, OSError):
    total = None
  try:
    with open('/sys/fs/cgroup/memory.max') as f:
      limit = f.read().strip()
    if limit.isdigit() and (total is None or int(limit) < total):
      total = int(limit)
  except OSError:
    pass
  return None if not total else total // 2**20


def default_budget_mb():
  """Half of this machine's memory (MB)."""
  return (machine_memory_mb() or FALLBACK_MEMORY_MB) // 2


def _peak_live_bytes(graph):
  """The most bytes of tensors alive at once running `graph`'s operations
  in order, each output freed after its last consumer."""
  operations = graph.get_operations()
  last_use = {}
  for index, op in enumerate(operations):
    for tensor in op.inputs:
      last_use[tensor.ref()] = index
  live = peak = 0
  frees = {}
  for index, op in enumerate(operations):
    for tensor in op.outputs:
      shape = tensor.shape
      if (tensor.dtype == tf.resource or shape.rank is None or
          not shape.is_fully_defined()):
        continue
      size = int(np.prod(shape.as_list())) * tensor.dtype.size
      live += size
      frees.setdefault(last_use.get(tensor.ref(), index), []).append(size)
    peak = max(peak, live)
    live -= sum(frees.pop(index, ()))
  return peak


def bytes_per_pixel(model):
  """Estimated bytes one input pixel costs `model`'s whole-image inference
  (its predictions), traced once per model (about a second; kept)."""
  if model in _BYTES_PER_PIXEL:
    return _BYTES_PER_PIXEL[model]
  ref = weakref.ref(model)
  probe = tf.function(lambda x: ref()(x, training=False)['predictions'])
  graph = probe.get_concrete_function(
      tf.TensorSpec([1, PROBE_SIDE, PROBE_SIDE, 3], tf.float32)).graph
  value = ALLOCATOR_MARGIN * _peak_live_bytes(graph) / PROBE_SIDE**2
  _BYTES_PER_PIXEL[model] = value
  return value


def whole_image_mb(model, image_hw):
  """Estimated MB of segmenting an image of `image_hw` whole."""
  return bytes_per_pixel(model) * image_hw[0] * image_hw[1] / 2**20
