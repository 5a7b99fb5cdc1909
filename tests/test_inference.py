"""Image in, labels out (deeplab/inference.py): padding to the crop, the
original's evaluation path, resizing back, whole or tiles."""
import numpy as np
import pytest

import conftest
import reference
from deeplab import common
from deeplab import inference
from deeplab import model as model_lib
from deeplab import runtime
from deeplab.core import feature_extractor


def test_pad_to_crop_pads_with_the_mean_pixel_and_never_crops():
  image = np.full((3, 4, 3), 9, np.uint8)
  padded = inference.pad_to_crop(image, (5, 6), 'resnet_v1_50')
  assert padded.shape == (5, 6, 3) and padded.dtype == np.float32
  np.testing.assert_array_equal(padded[:3, :4], 9)
  np.testing.assert_allclose(padded[4, 5], feature_extractor.mean_pixel(
      'resnet_v1_50'))
  with pytest.raises(ValueError, match='larger than --eval_crop_size=2,6'):
    inference.pad_to_crop(image, (2, 6), 'resnet_v1_50')


def test_tiles_only_when_the_options_give_a_tile_the_image_exceeds():
  options = conftest.small_options('mobilenet_v2', 33, 16)
  whole = runtime.build_graph(options, conftest.inference())
  tiled = runtime.build_graph(options, conftest.inference(tile_size=(65, 65)))
  assert not inference.tiles(whole, (300, 300))
  assert not inference.tiles(tiled, (65, 40))
  assert inference.tiles(tiled, (66, 40))


def test_smaller_image_is_padded_with_the_mean_pixel(zoo_checkpoint):
  arrays, sidecar = reference.load_vector('P3')
  image = arrays['image'][:100, :90]
  options = reference.options_from_build_kwargs(
      'mobilenet_v2', sidecar['build_kwargs'])
  result = inference.predict_image(image, options, zoo_checkpoint)
  assert result['predictions'].shape == (100, 90)
  # By hand: pad with 127.5, run the model, upsample, argmax, crop.
  model = model_lib.build_model(options)
  from deeplab import checkpoints  # pylint: disable=g-import-not-at-top
  checkpoints.load_weights(model, zoo_checkpoint)
  padded = np.full((129, 129, 3), 127.5, np.float32)
  padded[:100, :90] = image
  logits = model(padded[None]).numpy()
  np.testing.assert_allclose(result['logits'], logits, atol=1e-6)
  want = reference.upsample_align_corners(logits, (129, 129))[:100, :90]
  ties = reference.near_tie_mask(logits, (129, 129), (100, 90), 1e-5)
  assert ((result['predictions'] != want.argmax(-1)) & ~ties).sum() == 0
  assert feature_extractor.mean_pixel('mobilenet_v2') == (127.5,) * 3


def test_scales_and_flips_give_mean_probabilities(zoo_checkpoint):
  _, sidecar = reference.load_vector('P3')
  options = reference.options_from_build_kwargs(
      'mobilenet_v2', sidecar['build_kwargs'], crop_size=(65, 65))
  image = conftest.random_images(1, 60, 65)[0].astype(np.uint8)
  result = inference.predict_image(
      image, options, zoo_checkpoint,
      inference_options=common.InferenceOptions(eval_scales=(0.5, 1.0),
                                                add_flipped_images=True))
  probs = result['probabilities']
  assert probs.shape == (1, 65, 65, 21)
  np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
  np.testing.assert_array_equal(result['predictions'],
                                probs[0, :60].argmax(-1))
  assert result['logits'].shape == (1, 5, 5, 21)


def test_resize_back_to_the_original_size():
  pred = np.arange(12).reshape(3, 4)
  padded = np.pad(pred, ((0, 2), (0, 3)), constant_values=99)
  out = inference.restore_size(padded, (3, 4), (5, 7))
  assert out.shape == (5, 7) and 99 not in out
  assert out[0, 0] == 0 and out[-1, -1] == 11


def _dynamic(**fields):
  """A small MobileNetV2 graph of any input size with inference `fields`."""
  options = conftest.small_options('mobilenet_v2').replace(crop_size=None)
  return runtime.build_graph(options, conftest.inference(**fields))


def test_plan_tiles_what_exceeds_the_memory_budget(monkeypatch):
  monkeypatch.setattr(inference, 'SMALL_IMAGE_PIXELS', 0)
  over = inference.plan(_dynamic(memory_budget_mb=1), (600, 560))
  assert over.tiled and not over.chosen and over.tile_size == (513, 513)
  assert over.num_tiles == 4 and over.estimate_mb > over.budget_mb == 1
  assert 'memory_budget_mb=0 runs it whole' in over.describe()
  assert 'InferenceOptions(memory_budget_mb=0)' in over.describe(python=True)
  # One tile would hold it all: whole.
  assert not inference.plan(_dynamic(memory_budget_mb=1), (500, 500)).tiled
  roomy = inference.plan(_dynamic(memory_budget_mb=10**6), (600, 560))
  assert not roomy.tiled and roomy.estimate_mb < 10**6
  assert roomy.describe().startswith('whole (about ')
  never = inference.plan(_dynamic(memory_budget_mb=0), (6000, 5600))
  assert not never.tiled and never.estimate_mb is None


def test_plan_follows_a_chosen_tile_size():
  model = _dynamic(tile_size=(65, 65))
  assert not inference.plan(model, (65, 40)).tiled
  chosen = inference.plan(model, (66, 40))
  assert chosen.tiled and chosen.chosen and chosen.tile_size == (65, 65)
  assert chosen.describe() == 'in %d tiles of 65x65 (--tile_size)' % (
      chosen.num_tiles)
  # Small images run whole without an estimate; so does a fixed-size graph.
  assert inference.plan(_dynamic(), (300, 300)).estimate_mb is None
  fixed = runtime.build_graph(conftest.small_options('mobilenet_v2'),
                              conftest.inference(memory_budget_mb=1))
  assert not inference.plan(fixed, (65, 65)).tiled
