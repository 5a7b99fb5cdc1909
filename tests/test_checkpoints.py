"""Loading original checkpoints by name: parity, partial loads, misfits."""
import os
import time

import numpy as np
import pytest
import tensorflow as tf

from deeplab import checkpoints
from deeplab import model as model_lib
from deeplab import inference
from deeplab import rundir
from deeplab import checkpoint_state
import conftest
import reference


@pytest.fixture(scope='module')
def ckpt_dir(tmp_path_factory):
  """Reference (seed 0) checkpoints, written once per manifest."""
  root = tmp_path_factory.mktemp('reference_checkpoints')
  cache = {}

  def get(manifest_name):
    if manifest_name not in cache:
      cache[manifest_name] = reference.write_reference_checkpoint(
          manifest_name, str(root / manifest_name))
    return cache[manifest_name]
  return get


def _vector_result(vector_id, ckpt_dir):
  arrays, sidecar = reference.load_vector(vector_id)
  options = reference.options_from_build_kwargs(sidecar['variant'],
                                                sidecar['build_kwargs'])
  prefix = ckpt_dir(reference.vector_manifest_name(sidecar))
  result = inference.predict_image(arrays['image'], options, prefix)
  return arrays, sidecar, result


def _check_vector(arrays, sidecar, result):
  ref = arrays['logits']
  assert result['logits'].shape == ref.shape
  max_err = np.abs(result['logits'] - ref).max()
  assert max_err <= 1e-3 * ref.std(), max_err
  ties = reference.near_tie_mask(ref, tuple(sidecar['crop_size']),
                                 arrays['image'].shape[:2])
  mismatch = (result['predictions'] != arrays['predictions']) & ~ties
  assert mismatch.sum() == 0


@pytest.mark.parametrize('vector_id', ['P2', 'P3', 'P4', 'P5', 'P6'])
def test_vectors_through_the_checkpoint_loader(vector_id, ckpt_dir):
  _check_vector(*_vector_result(vector_id, ckpt_dir))


@pytest.mark.slow
def test_full_size_vector_through_the_checkpoint_loader(ckpt_dir):
  _check_vector(*_vector_result('P1', ckpt_dir))


def _manifest_model(manifest_name, crop=33):
  """A model with a manifest's variable set, on a small crop."""
  manifest = reference.load_manifest(manifest_name)
  return model_lib.build_model(reference.options_from_build_kwargs(
      manifest['variant'], manifest['build_kwargs'], crop_size=(crop, crop)))


def _small_xception_65(**kw):
  manifest = reference.load_manifest('xception_65')
  return reference.options_from_build_kwargs(
      'xception_65', manifest['build_kwargs'], crop_size=(33, 33), **kw)


def test_missing_variable_is_named(tmp_path):
  prefix = reference.write_reference_checkpoint(
      'mobilenet_v2_modelzoo', str(tmp_path),
      drop=('MobilenetV2/expanded_conv_3/project/weights',))
  model = _manifest_model('mobilenet_v2_modelzoo')
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match='expanded_conv_3/project/weights'):
    checkpoints.load_weights(model, prefix)


def test_unexpected_variable_and_training_state(tmp_path):
  extra = {'decoder/feature_projection0/weights': np.zeros((1, 1, 24, 48),
                                                           np.float32),
           'global_step': np.array(7, np.int64),
           'aspp0/weights/Momentum': np.zeros((1, 1, 320, 256), np.float32)}
  prefix = reference.write_reference_checkpoint(
      'mobilenet_v2_modelzoo', str(tmp_path), extra=extra)
  model = _manifest_model('mobilenet_v2_modelzoo')
  with pytest.raises(checkpoints.CheckpointMismatchError) as err:
    checkpoints.load_weights(model, prefix)
  message = str(err.value)
  assert 'model does not have (1)' in message
  assert 'decoder/feature_projection0/weights' in message
  assert 'global_step' not in message and 'Momentum' not in message


def test_num_classes_mismatch_names_both_shapes_and_loads_by_choice(
    ckpt_dir):
  options = _small_xception_65(
      outputs_to_num_classes={'semantic': 19})
  model = model_lib.build_model(options)
  initial = model_lib.tf1_variable_map(model)['logits/semantic/weights'].numpy()
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match=r'logits/semantic/weights: checkpoint \[1, 1, 256, '
                           r'21\], model \[1, 1, 256, 19\]'):
    checkpoints.load_weights(model, ckpt_dir('xception_65'))
  report = checkpoints.load_weights(model, ckpt_dir('xception_65'),
                                    initialize_last_layer=False,
                                    last_layers_contain_logits_only=True)
  assert report.skipped == ['logits/semantic/biases', 'logits/semantic/weights']
  assert len(report.restored) == 730
  variables = model_lib.tf1_variable_map(model)
  np.testing.assert_array_equal(variables['logits/semantic/weights'], initial)
  want = reference.deterministic_value('aspp0/weights', (1, 1, 2048, 256))
  np.testing.assert_array_equal(variables['aspp0/weights'], want)


def test_initialize_last_layer_false_skips_the_whole_head(ckpt_dir):
  model = model_lib.build_model(_small_xception_65())
  report = checkpoints.load_weights(model, ckpt_dir('xception_65'),
                                    initialize_last_layer=False)
  heads = ('logits', 'image_pooling', 'aspp', 'concat_projection', 'decoder')
  assert report.skipped and all(n.startswith(heads) for n in report.skipped)
  assert all(n.startswith('xception_65/') for n in report.restored)


def test_backbone_only_from_an_imagenet_style_checkpoint(tmp_path):
  # An ImageNet checkpoint: the backbone, a classifier, no DeepLab head.
  values = {k: v for k, v in reference.manifest_values(
      reference.load_manifest('xception_41')).items()
            if k.startswith('xception_41/')}
  values['xception_41/logits/weights'] = np.zeros((1, 1, 2048, 1001),
                                                  np.float32)
  prefix = reference.write_checkpoint(values, str(tmp_path / 'model.ckpt'))
  shapes = checkpoints.read_variable_shapes(prefix)
  assert not any(n.startswith('aspp') for n in shapes)
  model = _manifest_model('xception_41')
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match='backbone_only=True'):
    checkpoints.load_weights(model, prefix)
  report = checkpoints.load_weights(model, prefix, backbone_only=True)
  assert report.unused == ['xception_41/logits/weights']
  assert all(n.startswith('xception_41/') for n in report.restored)
  assert all(not n.startswith('xception_41/') for n in report.skipped)


def test_os8_evaluation_of_os16_weights(ckpt_dir):
  options = _small_xception_65().replace(output_stride=8,
                                         atrous_rates=(12, 24, 36))
  model = model_lib.build_model(options)
  report = checkpoints.load_weights(model, ckpt_dir('xception_65'))
  assert len(report.restored) == 732
  out = model(conftest.random_images(1, 33, 33))
  assert out.shape == (1, 9, 9, 21) and np.isfinite(out.numpy()).all()


def test_resolve_checkpoint_paths(ckpt_dir, tmp_path):
  prefix = ckpt_dir('mobilenet_v2_modelzoo')
  assert checkpoints.resolve_checkpoint(prefix + '.index') == prefix
  assert checkpoints.resolve_checkpoint(os.path.dirname(prefix)) == prefix
  with pytest.raises(FileNotFoundError, match='nowhere'):
    checkpoints.resolve_checkpoint(str(tmp_path / 'nowhere' / 'model.ckpt'))
  with pytest.raises(FileNotFoundError, match='No checkpoint found'):
    checkpoints.resolve_checkpoint(str(tmp_path))


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, ckpt_dir):
  prefix = str(tmp_path / 'model.ckpt')
  with open(prefix + '.index', 'wb') as f:
    f.write(b'not a checkpoint')
  with pytest.raises(checkpoints.CheckpointMismatchError, match='Cannot read'):
    checkpoints.read_variable_shapes(prefix)


def test_project_checkpoint_round_trip(ckpt_dir, tmp_path):
  manifest = reference.load_manifest('mobilenet_v2_modelzoo')
  options = reference.options_from_build_kwargs(
      'mobilenet_v2', manifest['build_kwargs'], crop_size=None)
  from deeplab import convert_checkpoint  # pylint: disable=g-import-not-at-top
  out_dir = str(tmp_path / 'converted')
  prefix, report = convert_checkpoint.convert(ckpt_dir('mobilenet_v2_modelzoo'),
                                              options, out_dir)
  assert len(report.restored) == 272
  assert sorted(os.listdir(out_dir)) == ['checkpoint', 'model.ckpt.data-00000'
                                         '-of-00001', 'model.ckpt.index',
                                         'model_options.json']
  assert rundir.load_options(out_dir) == options
  image = conftest.random_images(1, 33, 33)[0].astype(np.uint8)
  a = inference.predict_image(image, options.replace(crop_size=(33, 33)),
                              ckpt_dir('mobilenet_v2_modelzoo'))
  b = inference.predict_image(image, options.replace(crop_size=(33, 33)), out_dir)
  np.testing.assert_array_equal(a['logits'], b['logits'])
  # The saved file is an ordinary name-based checkpoint.
  reader = tf.train.load_checkpoint(prefix)
  np.testing.assert_array_equal(
      reader.get_tensor('aspp0/weights'),
      reference.deterministic_value('aspp0/weights', (1, 1, 320, 256)))


@pytest.mark.parametrize('variant, changes, expected_name', [
    ('resnet_v1_50', dict(aspp_with_separable_conv=False,
                          decoder_use_separable_conv=False),
     'decoder/decoder_conv0/decoder_conv0_2/weights'),
    ('xception_41', dict(add_image_level_feature=False),
     'concat_projection/weights'),
    ('mobilenet_v2', dict(depth_multiplier=0.5, atrous_rates=None,
                          decoder_output_stride=None),
     'MobilenetV2/expanded_conv_16/project/weights'),
    ('resnet_v1_101', dict(multi_grid=(1, 2, 4)), 'resnet_v1_101/conv1/weights'),
    ('xception_41', dict(decoder_use_sum_merge=True),
     'decoder/decoder_split_sep_conv0_pointwise/weights'),
    ('xception_41', dict(decoder_output_stride=(8, 4)),
     'decoder/decoder_conv1_1_depthwise/depthwise_weights'),
])
def test_save_and_load_round_trip_for_other_options(variant, changes,
                                                    expected_name, tmp_path):
  options = conftest.small_options(variant, 33, 16, **changes)
  model = conftest.assign_recipe_values(model_lib.build_model(options), 9)
  names = set(model_lib.tf1_variable_map(model))
  assert expected_name in names
  if not options.add_image_level_feature:
    assert not any(n.startswith('image_pooling') for n in names)
    assert model_lib.tf1_variable_map(model)[
        'concat_projection/weights'].shape[2] == 4 * 256
  prefix = checkpoints.save_weights(model, str(tmp_path / 'ckpt'))
  assert set(checkpoints.read_variable_shapes(prefix)) == names
  fresh = model_lib.build_model(options.replace(output_stride=8))
  checkpoints.load_weights(fresh, str(tmp_path / 'ckpt'))
  again = model_lib.build_model(options)
  checkpoints.load_weights(again, prefix)
  images = conftest.random_images(1, 33, 33)
  np.testing.assert_array_equal(again(images).numpy(), model(images).numpy())


def _manager(tmp_path, max_to_keep=5):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  step = tf.Variable(0)
  return tf.train.CheckpointManager(tf.train.Checkpoint(step=step),
                                    str(tmp_path), max_to_keep=max_to_keep,
                                    checkpoint_name='model.ckpt')


def test_for_each_checkpoint_polls_a_folder_like_the_original(tmp_path):
  """A prefix gives itself once; a folder with max 1 its latest; with more,
  each new checkpoint as it appears (what eval.py and vis.py poll)."""
  import threading  # pylint: disable=g-import-not-at-top
  manager = _manager(tmp_path)
  first = manager.save(checkpoint_number=1)
  same = lambda prefix: prefix
  assert checkpoint_state.for_each_checkpoint(first, same, 0) == [first]
  assert checkpoint_state.for_each_checkpoint(str(tmp_path), same, 1) == [first]
  timer = threading.Timer(1.5, lambda: manager.save(checkpoint_number=2))
  timer.start()
  try:
    seen = checkpoint_state.for_each_checkpoint(str(tmp_path), same, 2,
                                                interval_secs=0)
  finally:
    timer.join()
  assert [os.path.basename(p) for p in seen] == ['model.ckpt-1',
                                                 'model.ckpt-2']


def test_polling_stops_when_the_run_finishes_after_its_last_job(tmp_path):
  """The trainer writes its last checkpoint and releases its logdir a moment
  later: a job that ran on that checkpoint in between saw a running run.
  Polling still ends once the run has finished (it used to wait forever
  for a checkpoint that never came)."""
  import threading  # pylint: disable=g-import-not-at-top
  manager = _manager(tmp_path)
  last = manager.save(checkpoint_number=8)
  running = [True]
  finished = lambda prefix: prefix.endswith('-8') and not running[0]
  start = time.time()
  timer = threading.Timer(1.0, lambda: running.__setitem__(0, False))
  timer.start()
  try:
    seen = checkpoint_state.for_each_checkpoint(str(tmp_path), lambda p: p, 0,
                                                interval_secs=0,
                                                finished=finished)
  finally:
    timer.join()
  assert seen == [last]
  assert time.time() - start < 30


def test_a_checkpoint_that_vanishes_before_it_is_read_does_not_count(
    tmp_path):
  """A trainer's rotation deletes a checkpoint under the evaluator: it waits
  for the next one instead of counting it (and ending with no result)."""
  import threading  # pylint: disable=g-import-not-at-top
  manager = _manager(tmp_path, max_to_keep=1)
  manager.save(checkpoint_number=1)
  ran = []

  def job(prefix):
    if not ran:  # The first one is rotated away while the job starts.
      ran.append(None)
      manager.save(checkpoint_number=int(prefix.rsplit('-', 1)[1]) + 1)
      checkpoints.resolve_checkpoint(prefix)  # Raises: it is gone.
    ran.append(prefix)
    return prefix

  timer = threading.Timer(1.5, lambda: manager.save(checkpoint_number=3))
  timer.start()
  try:
    seen = checkpoint_state.for_each_checkpoint(str(tmp_path), job, 2,
                                                interval_secs=0)
  finally:
    timer.join()
  assert [os.path.basename(p) for p in seen] == ['model.ckpt-2',
                                                 'model.ckpt-3']
  # With max 1, the latest is taken again.
  ran.clear()
  manager.save(checkpoint_number=4)
  seen = checkpoint_state.for_each_checkpoint(str(tmp_path), job, 1)
  assert [os.path.basename(p) for p in seen] == ['model.ckpt-5']


def _misfit(model, prefix, **kwargs):
  with pytest.raises(checkpoints.CheckpointMismatchError) as e:
    checkpoints.load_weights(model, prefix, **kwargs)
  return str(e.value)


def test_a_misfit_names_the_structural_difference_and_its_flag(ckpt_dir):
  zoo = ckpt_dir('mobilenet_v2_modelzoo')  # No decoder, no atrous branches.
  mnv2 = reference.options_from_build_kwargs(
      'mobilenet_v2', reference.load_manifest('mobilenet_v2_modelzoo')[
          'build_kwargs'], crop_size=(33, 33))
  # The pretrained start of a recipe with a decoder, logits only fresh.
  with_decoder = model_lib.build_model(
      mnv2.replace(decoder_output_stride=(4,)))
  message = _misfit(with_decoder, zoo, initialize_last_layer=False,
                    last_layers_contain_logits_only=True)
  assert ('Difference: the model has a decoder (--decoder_output_stride) and '
          'the checkpoint none: leave out --decoder_output_stride to match '
          'it, or --initialize_last_layer=false without '
          '--last_layers_contain_logits_only starts the decoder fresh'
          in message), message
  assert 'Hint:' not in message  # The difference is the hint.
  report = checkpoints.load_weights(with_decoder, zoo,
                                    initialize_last_layer=False)
  assert any(n.startswith('decoder/') for n in report.skipped)
  atrous = model_lib.build_model(mnv2.replace(atrous_rates=(6, 12, 18)))
  assert 'leave out --atrous_rates to match it' in _misfit(atrous, zoo)
  # The other way round: the checkpoint has what the model lacks.
  x65 = ckpt_dir('xception_65')
  plain = model_lib.build_model(_small_xception_65(decoder_output_stride=None))
  assert 'give --decoder_output_stride=4' in _misfit(plain, x65)
  no_atrous = model_lib.build_model(_small_xception_65(atrous_rates=None))
  assert 'give --atrous_rates' in _misfit(no_atrous, x65)
  other = model_lib.build_model(_small_xception_65(model_variant='xception_41'))
  assert ("the checkpoint's backbone is xception_65 "
          "(--model_variant=xception_65), the model's xception_41"
          in _misfit(other, x65))
  fewer = model_lib.build_model(_small_xception_65(
      outputs_to_num_classes={'semantic': 19}))
  assert ('the checkpoint has 21 classes and the model 19'
          in _misfit(fewer, x65))
