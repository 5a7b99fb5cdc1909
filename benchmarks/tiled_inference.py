r"""Huge images in tiles: time, time per megapixel and peak memory.

  python benchmarks/tiled_inference.py [--variants=mobilenet_v2,xception_65]
      [--sizes=2000,6000,12000] [--tile_size=513,513] [--tile_overlap=0.25]
      [--tile_batch_size=1] [--tile_image_pooling=image,tile]
      [--nosaved_model] [--workdir=DIR]

For each model (MobileNetV2 DeepLabv3, the model zoo's head; Xception-65
DeepLabv3+, ASPP 6/12/18 and the decoder; OS16, random weights with
trained-like BatchNorm statistics) and each square image size, a fresh
process runs

  * predict: `deeplab-predict --tile_size ... --allow_large_images` on a JPEG
    of the size (reading, tiles, writing the label PNG), once for each
    `--tile_image_pooling` value (`predict/tile` for `tile`: one pass, each
    tile pooling over itself), and
  * saved_model: the exported SavedModel's `serving_tiled` signature (the
    first `--tile_image_pooling` value), loaded
    with `tf.saved_model.load`, on the JPEG decoded by TensorFlow (the time
    is the call's alone),

and reports its wall time, the time per megapixel (constant when the work
is linear in the pixels) and its peak resident memory (ru_maxrss). One more
process segments the smallest image whole (`deeplab-predict
--memory_budget_mb=0`; only up to --whole_max_size), so the cost of the overlap
is a ratio measured in this run.
The CPU is printed; the figures of one run compare with each other only.
"""
import json
import os
import subprocess
import sys
import tempfile

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import inference as inference_benchmark  # pylint: disable=g-import-not-at-top,wrong-import-position

flags.DEFINE_list('variants', ['mobilenet_v2', 'xception_65'],
                  'Models to run.')
flags.DEFINE_list('sizes', ['2000', '6000', '12000'],
                  'Square image sizes (pixels on a side).')
flags.DEFINE_list('tile_size', ['513', '513'], 'Tile height, width.')
flags.DEFINE_float('tile_overlap', 0.25, 'Tile overlap (pixels or fraction).')
flags.DEFINE_integer('tile_batch_size', 1, 'Tiles per call.')
flags.DEFINE_list('tile_image_pooling', ['image', 'tile'],
                  'The --tile_image_pooling values to time predict with '
                  '(the SavedModel takes the first).')
flags.DEFINE_bool('saved_model', True, 'Also run the SavedModel signature.')
flags.DEFINE_integer('whole_max_size', 4000,
                     'Segment the smallest size whole too (the comparison) '
                     'when it is at most this many pixels on a side: a whole '
                     '12000x12000 image needs hundreds of GB.')
flags.DEFINE_string('workdir', None, 'Where to write (default: a temp dir).')
FLAGS = flags.FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A child reports its peak memory when it exits (absl's app.run exits
# through sys.exit, so atexit runs).
_PREDICT = '''
import atexit, resource, sys, time
start = time.time()
atexit.register(lambda: sys.stderr.write('BENCH %f %d\\n' % (
    time.time() - start,
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
from deeplab.cli import predict
predict.main(sys.argv)
'''

# A serving client: the JPEG decoded by TensorFlow, the signature called.
_SAVED_MODEL = '''
import resource, sys, time
import tensorflow as tf
export_dir, image_path = sys.argv[1:3]
image = tf.io.decode_jpeg(tf.io.read_file(image_path), channels=3)
serve = tf.saved_model.load(export_dir).signatures['serving_tiled']
start = time.time()
labels = serve(ImageTensor=image[None])['SemanticPredictions']
seconds = time.time() - start
assert labels.shape[1:] == image.shape[:2], labels.shape
sys.stderr.write('BENCH %f %d\\n' % (
    seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
'''


def model_options(variant):
  from deeplab import common  # pylint: disable=g-import-not-at-top
  if variant == 'xception_65':
    return common.ModelOptions(
        model_variant='xception_65', output_stride=16,
        atrous_rates=(6, 12, 18), decoder_output_stride=(4,))
  return common.ModelOptions(model_variant=variant, output_stride=16)


def write_image(path, size, seed=0):
  """A JPEG of size x size with shapes on a textured background, written in
  bands (the image is never held as floats)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(seed)
  image = np.empty((size, size, 3), np.uint8)
  cell = 256
  pattern = rng.randint(40, 220, (cell, cell, 3)).astype(np.uint8)
  for top in range(0, size, cell):
    for left in range(0, size, cell):
      block = image[top:top + cell, left:left + cell]
      block[:] = pattern[:block.shape[0], :block.shape[1]] // 2 + rng.randint(
          0, 128, 3).astype(np.uint8)
  Image.fromarray(image).save(path, quality=90)


def run_child(args):
  """(seconds, peak RSS bytes) of a child that prints 'BENCH s kb'."""
  out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
  lines = [l for l in out.stderr.splitlines() if l.startswith('BENCH ')]
  if out.returncode != 0 or not lines:
    raise RuntimeError('%s failed:\n%s' % (' '.join(args[:3]),
                                           out.stderr[-3000:]))
  _, seconds, kb = lines[-1].split()
  return float(seconds), int(kb) * 1024


def main(unused_argv):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from deeplab import common  # pylint: disable=g-import-not-at-top
  from deeplab import export  # pylint: disable=g-import-not-at-top
  from deeplab import tiling  # pylint: disable=g-import-not-at-top
  cpu, _ = inference_benchmark.cpu_features()
  print('CPU: %s, %d cores' % (cpu, os.cpu_count()))
  workdir = FLAGS.workdir or tempfile.mkdtemp(prefix='tiled_bench_')
  os.makedirs(workdir, exist_ok=True)
  tile = tuple(int(v) for v in FLAGS.tile_size)
  poolings = list(FLAGS.tile_image_pooling)
  tiles = common.InferenceOptions(tile_size=tile,
                                  tile_overlap=FLAGS.tile_overlap,
                                  tile_batch_size=FLAGS.tile_batch_size,
                                  tile_image_pooling=poolings[0])
  sizes = sorted(int(s) for s in FLAGS.sizes)
  images = {}
  for size in sizes:
    images[size] = os.path.join(workdir, 'image_%d.jpg' % size)
    if not os.path.exists(images[size]):
      write_image(images[size], size)
  print('tiles %dx%d, overlap %dx%d pixels (at output stride 16), batch %d'
        % (tile + tiles.tile_overlap_pixels(16) + (FLAGS.tile_batch_size,)))
  print('%-12s %-12s %6s %7s %6s %9s %8s %12s' % (
      'model', 'path', 'size', 'MP', 'tiles', 'seconds', 's/MP',
      'peak RSS GB'))
  rows = []
  for variant in FLAGS.variants:
    options = model_options(variant)
    folder = os.path.join(workdir, variant)
    checkpoint = os.path.join(folder, 'ckpt')
    if not os.path.exists(checkpoint):
      os.makedirs(folder, exist_ok=True)
      inference_benchmark.trained_like_checkpoint(
          options, np.random.RandomState(0), folder)
    export_dir = os.path.join(folder, 'export')
    if FLAGS.saved_model and not os.path.exists(export_dir):
      module = export.DeepLabServing(options, checkpoint, crop_size=tile,
                                     inference_options=tiles.replace(
                                         dilated_depthwise='space_to_batch'))
      export.export_saved_model(module, export_dir)
    base = [sys.executable, '-c', _PREDICT, '--checkpoint=' + checkpoint,
            '--allow_large_images']
    tile_flags = ['--tile_size=%d,%d' % tile,
                  '--tile_overlap=%g' % FLAGS.tile_overlap,
                  '--tile_batch_size=%d' % FLAGS.tile_batch_size]
    compare = sizes[0] <= FLAGS.whole_max_size
    runs = [('whole', sizes[0], base + [
        '--image=' + images[sizes[0]], '--memory_budget_mb=0',
        '--output_label_png=' + os.path.join(folder, 'whole.png')])
           ] if compare else []
    for size in sizes:
      for pooling in poolings:
        path = 'predict' if pooling == 'image' else 'predict/' + pooling
        runs.append((path, size, base + tile_flags + [
            '--tile_image_pooling=' + pooling, '--image=' + images[size],
            '--output_label_png=' + os.path.join(
                folder, 'tiled_%d_%s.png' % (size, pooling))]))
      if FLAGS.saved_model:
        runs.append(('saved_model', size, [
            sys.executable, '-c', _SAVED_MODEL, export_dir, images[size]]))
    for path, size, args in runs:
      seconds, rss = run_child(args)
      megapixels = size * size / 1e6
      count = 1 if path == 'whole' else tiling.num_tiles(
          (size, size), tile, tiles.tile_overlap_pixels(16))
      row = dict(model=variant, path=path, size=size, megapixels=megapixels,
                 tiles=count, seconds=seconds,
                 seconds_per_megapixel=seconds / megapixels,
                 peak_rss_gb=rss / 2**30)
      rows.append(row)
      print('%-12s %-12s %6d %7.1f %6d %9.1f %8.3f %12.2f' % (
          variant, path, size, megapixels, count, seconds,
          seconds / megapixels, rss / 2**30), flush=True)
    if not compare:
      continue
    whole = [r for r in rows if r['model'] == variant and r['path'] ==
             'whole'][0]
    for tiled in [r for r in rows if r['model'] == variant and
                  r['path'].startswith('predict') and r['size'] == sizes[0]]:
      print('%s: %s takes %.2fx the time of the whole %dx%d image (the '
            'overlap is computed twice)' % (
                variant, tiled['path'], tiled['seconds'] / whole['seconds'],
                sizes[0], sizes[0]))
  for variant in FLAGS.variants:
    for size in sizes:
      by_path = {r['path']: r['seconds'] for r in rows
                 if r['model'] == variant and r['size'] == size}
      if 'predict' in by_path and 'predict/tile' in by_path:
        print('%s %dx%d: the whole image\'s pooling (two passes) takes '
              '%.2fx the time of per-tile pooling' % (
                  variant, size, size,
                  by_path['predict'] / by_path['predict/tile']))
  with open(os.path.join(workdir, 'results.json'), 'w') as f:
    json.dump(rows, f, indent=1)
  print('results: %s' % os.path.join(workdir, 'results.json'))


if __name__ == '__main__':
  app.run(main)
