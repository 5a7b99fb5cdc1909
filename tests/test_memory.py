"""The memory estimate of whole-image inference (deeplab/memory.py)."""
import tensorflow as tf

import conftest
from deeplab import memory
from deeplab import runtime


def test_peak_counts_the_tensors_alive_together():
  # x (120 kB) -> x * 2 -> + 1 -> returned: x is freed after the product,
  # the product after the sum, so at most two images are alive at once.
  fn = tf.function(lambda x: x * 2.0 + 1.0)
  graph = fn.get_concrete_function(
      tf.TensorSpec([1, 100, 100, 3], tf.float32)).graph
  image = 100 * 100 * 3 * 4
  peak = memory._peak_live_bytes(graph)  # pylint: disable=protected-access
  assert 2 * image <= peak < 2 * image + 64


def test_estimate_follows_the_passes_and_is_kept():
  options = conftest.small_options('mobilenet_v2').replace(crop_size=None)
  one = runtime.build_graph(options, conftest.inference())
  three = runtime.build_graph(options, conftest.inference(eval_scales=(0.5, 1.0, 1.5),
                                                  add_flipped_images=True))
  single = memory.bytes_per_pixel(one)
  assert 50 < single < 2000
  assert memory.bytes_per_pixel(three) > 1.5 * single
  assert memory.bytes_per_pixel(one) == single  # Kept: traced once.
  assert memory.whole_image_mb(one, (1024, 2048)) == (
      single * 2 * 2**20 / 2**20)


def test_the_budget_is_half_the_machine():
  total = memory.machine_memory_mb()
  assert total is None or total > 0
  assert memory.default_budget_mb() == (
      total or memory.FALLBACK_MEMORY_MB) // 2
