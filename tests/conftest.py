"""Shared test helpers: small options, weight initialisation by the recipe."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest

from deeplab import common
from deeplab.core import factory
from deeplab.core import names
import helpers
import reference

# Every variant and the rates the original uses with it (smaller ones where
# the crop is small, which does not change the variable set).
VARIANTS = common.MODEL_VARIANTS


def pytest_xdist_auto_num_workers(config):
  """`-n auto` (pytest.ini): a worker a core this process may use, at most
  four (each worker loads its own TensorFlow and test data)."""
  del config  # Unused.
  cores = (len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
           else os.cpu_count() or 1)
  return max(1, min(cores, 4))


def small_options(variant='xception_41', crop=65, output_stride=16, **kw):
  """ModelOptions of a DeepLabv3+ on a small crop (fast to build and run)."""
  defaults = dict(
      model_variant=variant, crop_size=(crop, crop),
      output_stride=output_stride, atrous_rates=(1, 2, 3),
      decoder_output_stride=(4,),
      outputs_to_num_classes={common.OUTPUT_TYPE: 5})
  defaults.update(kw)
  return common.ModelOptions(**defaults)


def assign_recipe_values(model, seed=0):
  """Assigns every weight its reference-recipe value (by original name).

  Moving statistics get non-trivial values too, so inference-mode BatchNorm
  is exercised, unlike Keras' default initialisation.
  """
  for name, var in names.tf1_variable_map(model).items():
    var.assign(reference.deterministic_value(name, var.shape, 'float32', seed))
  return model


def inference(**fields):
  """`InferenceOptions` with `fields`, BatchNorm not folded unless asked
  (the graph checkpoints load into)."""
  return common.InferenceOptions(**dict(dict(fold_batch_norm=False),
                                        **fields))


def fold(plain, **changes):
  """`plain` (an unfolded inference graph, weights set) folded, with
  `changes` to its inference options (precision, dilated kernel)."""
  from deeplab import runtime  # pylint: disable=g-import-not-at-top
  return runtime.fold(plain, inference_options=plain.inference_options.replace(
      fold_batch_norm=True, **changes))


def folded_pair(options, **kwargs):
  """An unfolded inference model with recipe weights and its folded twin."""
  from deeplab import runtime  # pylint: disable=g-import-not-at-top
  plain = assign_recipe_values(
      runtime.build_graph(options, inference(**kwargs)))
  return plain, fold(plain)


def assert_same_outputs(plain, folded, images):
  """The folded graph's outputs are the unfolded one's, up to float32
  rounding."""
  a, b = plain(images, training=False), folded(images, training=False)
  scale = np.abs(a['logits'].numpy()).max()
  np.testing.assert_allclose(b['logits'].numpy(), a['logits'].numpy(),
                             rtol=0, atol=1e-5 * scale)
  np.testing.assert_allclose(b['probabilities'].numpy(),
                             a['probabilities'].numpy(), rtol=0, atol=1e-5)
  np.testing.assert_array_equal(b['predictions'].numpy(),
                                a['predictions'].numpy())


def backbone_model(options, end_point_names=()):
  """The backbone of `options` alone as a Keras model (raw pixels ->
  [features] + the named end points, or the features alone)."""
  import keras  # pylint: disable=g-import-not-at-top
  from deeplab.core import feature_extractor  # pylint: disable=g-import-not-at-top
  shape = tuple(options.crop_size) if options.crop_size else (None, None)
  images = keras.Input(shape=shape + (3,), name='images')
  features, points = feature_extractor.extract_features(
      factory.LayerFactory(1e-3, 0.9997), images, options)
  missing = [n for n in end_point_names if n not in points]
  if missing:
    raise ValueError('Unknown end points %s; known: %s'
                     % (missing, sorted(points)[:20]))
  outputs = [features] + [points[n] for n in end_point_names]
  return keras.Model(images, outputs if end_point_names else features)


# Odd sizes, larger and smaller than a 65x65 crop, in batches of two: what
# exports for other runtimes are checked on.
EXPORT_CHECK_SHAPES = [(71, 93), (33, 51)]


def check_labels_against_saved_model(module, labels_of, shapes=None):
  """`labels_of(images)` (another runtime's labels for uint8 images) equals
  the serving graph `module`'s labels on every pixel whose top-2 margin of
  probabilities exceeds 1e-4, and on >= 99.9% of the pixels, for random
  batches of two images of each of `shapes`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from deeplab import export  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(0)
  for shape in shapes or EXPORT_CHECK_SHAPES:
    batch = 1 if len(shape) == 3 else 2
    images = rng.randint(0, 256, (batch,) + tuple(shape[-2:]) + (3,)).astype(
        np.uint8)
    labels = np.asarray(labels_of(images))
    want = module.serve_with_probabilities(tf.constant(images))
    assert labels.shape == images.shape[:3] and labels.dtype == np.int32
    top2 = np.sort(want[export.PROBABILITIES_NAME].numpy(), -1)[..., -2:]
    clear = top2[..., 1] - top2[..., 0] > 1e-4
    same = labels == want[export.OUTPUT_NAME].numpy()
    assert same[clear].all()
    assert same.mean() >= 0.999


def read_all(dataset):
  """All elements of a finite `Dataset` as a list of NumPy dicts."""
  return [{k: np.asarray(v) for k, v in batch.items()} for batch in dataset]


def random_images(batch, height, width, seed=0):
  rng = np.random.RandomState(seed)
  return rng.uniform(0, 255, size=(batch, height, width, 3)).astype(np.float32)


def train_on_scenes(root, variant, steps):
  """A model of `variant` trained from scratch on 64 synthetic scenes of
  96x128 (97x97 crops, batch 8, the quickstart's job; ASPP rates 1, 2, 3
  for the crops' 6x6 features), in `root`.

  Returns:
    (the model's options for any input size, the training log directory).
  """
  # Imported here: collecting the tests should not load the trainer.
  from deeplab import quickstart  # pylint: disable=g-import-not-at-top
  from deeplab.data import synthetic  # pylint: disable=g-import-not-at-top
  from deeplab.datasets import build_voc2012_data  # pylint: disable=g-import-not-at-top
  from deeplab.training import trainer  # pylint: disable=g-import-not-at-top
  root = str(root)
  folders = synthetic.generate(os.path.join(root, 'raw'), num_train=64,
                               num_val=1)
  records = os.path.join(root, 'records')
  summaries = build_voc2012_data.convert(
      folders['list_folder'], folders['image_folder'],
      folders['label_folder'], records)
  dataset = synthetic.write_description(
      records, {s.split: s.num_images for s in summaries}, 4)
  options = quickstart.model_options(variant)
  if options.atrous_rates:
    options = options.replace(atrous_rates=(1, 2, 3))
  logdir = os.path.join(root, 'train')
  options = trainer.train(
      quickstart.train_config(logdir, dataset, records, steps, 8),
      options)['options']
  return options.replace(crop_size=None), logdir


def mosaic(rng, rows, cols):
  """An image (and labels) of rows x cols synthetic scenes of the training
  images' size (`train_on_scenes`): large, with the objects at the scale the
  model learnt."""
  from deeplab.data import synthetic  # pylint: disable=g-import-not-at-top
  scenes = [[synthetic.make_example(rng, 96, 128, 4) for _ in range(cols)]
            for _ in range(rows)]
  return tuple(np.concatenate([np.concatenate([s[k] for s in row], 1)
                               for row in scenes], 0) for k in (0, 1))


@pytest.fixture
def rng():
  return np.random.RandomState(1234)


@pytest.fixture(scope='session')
def voc_records(tmp_path_factory):
  """TFRecords of a small synthetic VOC-layout dataset (16 train, 8 val)."""
  from deeplab.datasets import build_voc2012_data  # pylint: disable=g-import-not-at-top
  from deeplab.data import synthetic  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp('synthetic_voc')
  folders = synthetic.generate(str(root / 'raw'), num_train=16, num_val=8,
                               height=72, width=88)
  out = str(root / 'tfrecord')
  build_voc2012_data.convert(folders['list_folder'], folders['image_folder'],
                             folders['label_folder'], out)
  return out


@pytest.fixture(scope='session')
def voc_raw(voc_records):
  """The raw folders (JPEGImages, SegmentationClass, lists) of voc_records."""
  import os  # pylint: disable=g-import-not-at-top,reimported
  voc = os.path.join(os.path.dirname(voc_records), 'raw', 'VOCdevkit',
                     'VOC2012')
  return {'image_folder': os.path.join(voc, 'JPEGImages'),
          'label_folder': os.path.join(voc, 'SegmentationClass'),
          'list_folder': os.path.join(voc, 'ImageSets', 'Segmentation')}


@pytest.fixture(scope='session')
def zoo_checkpoint(tmp_path_factory):
  """make_checkpoint.py's values for the model-zoo MobileNetV2 (21 classes)."""
  return reference.write_reference_checkpoint(
      'mobilenet_v2_modelzoo', str(tmp_path_factory.mktemp('zoo')))


# The model-zoo MobileNetV2 configuration (no ASPP atrous branches, no
# decoder): its logits are at the output stride, so the stride shows.
ZOO_OPTIONS = common.ModelOptions(model_variant='mobilenet_v2',
                                  output_stride=16)


@pytest.fixture(scope='session')
def zoo_logdir(zoo_checkpoint, tmp_path_factory):
  """A folder like a training logdir: zoo weights under our names, with
  model_options.json (OS16) beside them."""
  from deeplab import checkpoints  # pylint: disable=g-import-not-at-top
  from deeplab import model as model_lib  # pylint: disable=g-import-not-at-top
  model = model_lib.build_model(ZOO_OPTIONS)
  checkpoints.load_weights(model, zoo_checkpoint)
  directory = str(tmp_path_factory.mktemp('zoo_logdir'))
  checkpoints.save_weights(model, directory, ZOO_OPTIONS)
  return directory


_RUN_FROZEN = '''
import sys, numpy as np, tensorflow as tf
graph_def = tf.compat.v1.GraphDef()
with open(sys.argv[1], 'rb') as f:
  graph_def.ParseFromString(f.read())
graph = tf.Graph()
with graph.as_default():
  tf.compat.v1.import_graph_def(graph_def, name='')
inputs = np.load(sys.argv[2])
out = {}
with tf.compat.v1.Session(graph=graph) as sess:
  for key in sorted(inputs.files):
    out[key] = sess.run('SemanticPredictions:0',
                        feed_dict={'ImageTensor:0': [inputs[key]]})
np.savez(sys.argv[3], **out)
'''


def run_frozen_graph(path, images, workdir):
  """Labels of a frozen_inference_graph.pb for each uint8 image, computed as
  the original's demo notebook does (import_graph_def, a TF1 session, feeding
  ImageTensor:0, fetching SemanticPredictions:0), in a fresh process."""
  inputs = os.path.join(workdir, 'frozen_inputs.npz')
  outputs = os.path.join(workdir, 'frozen_outputs.npz')
  np.savez(inputs, **{'%04d' % i: image for i, image in enumerate(images)})
  run = helpers.run(['-c', _RUN_FROZEN, path, inputs, outputs])
  assert run.returncode == 0, run.stderr[-2000:]
  result = np.load(outputs)
  return [result['%04d' % i] for i in range(len(images))]
