"""`Segmenter` (deeplab/segmenter.py): images as they are, any size, whole
or in tiles, and the shape it needs named."""
import numpy as np
import pytest

import conftest
from deeplab import common
from deeplab import inference
from deeplab import runtime
from deeplab import segmenter as segmenter_lib


def _segmenter(zoo_checkpoint, **kwargs):
  model, _ = runtime.load(conftest.ZOO_OPTIONS, zoo_checkpoint,
                          common.InferenceOptions())
  return segmenter_lib.Segmenter(model, **kwargs)


def test_segmenter_takes_images_as_they_are(zoo_checkpoint):
  segmenter = _segmenter(zoo_checkpoint, class_names=['a', 'b'],
                         colormap='cityscapes')
  image = conftest.random_images(1, 37, 45)[0].astype(np.uint8)
  labels = segmenter.segment(image)
  assert labels.shape == (37, 45) and labels.dtype == np.int32
  batch = segmenter.segment(np.stack([image, image]))
  np.testing.assert_array_equal(batch[1], labels)
  # What the original's evaluation path gives, and the Keras model's call.
  want = inference.segment(segmenter.model, image[None], 'mobilenet_v2')[
      'predictions'][0].numpy()
  np.testing.assert_array_equal(labels, want)
  called = segmenter(image[None].astype(np.float32))['predictions'][0]
  np.testing.assert_array_equal(called.numpy(), want)
  assert segmenter.model_options == conftest.ZOO_OPTIONS
  assert segmenter.inference_options == common.InferenceOptions()
  assert (segmenter.class_names, segmenter.colormap) == (['a', 'b'],
                                                         'cityscapes')
  assert segmenter.name == segmenter.model.name  # Keras' attributes too.


def test_segmenter_pads_to_its_evaluation_crop(zoo_checkpoint):
  image = conftest.random_images(1, 37, 45)[0].astype(np.uint8)
  cropped = _segmenter(zoo_checkpoint, eval_crop_size=(65, 65))
  want = inference.segment(cropped.model, image[None], 'mobilenet_v2',
                           crop_size=(65, 65))['predictions'][0].numpy()
  np.testing.assert_array_equal(cropped.segment(image), want)


@pytest.mark.slow
def test_segmenter_tiles_an_image_over_its_budget(zoo_checkpoint, monkeypatch):
  monkeypatch.setattr(inference, 'SMALL_IMAGE_PIXELS', 0)
  image = conftest.mosaic(np.random.RandomState(1234), 7, 5)[0][:600, :560]
  whole = _segmenter(zoo_checkpoint).segment(image)
  model, _ = runtime.load(conftest.ZOO_OPTIONS, zoo_checkpoint,
                          common.InferenceOptions(memory_budget_mb=1))
  tiled = segmenter_lib.Segmenter(model)
  assert inference.plan(tiled.model, image.shape[:2]).tiled
  labels = tiled.segment(image)
  assert labels.shape == (600, 560) and labels.dtype == np.int32
  assert (labels == whole).mean() >= 0.995


@pytest.mark.parametrize('shape,dtype,needs', [
    ((37, 45), np.uint8, r'grey image: give it three channels'),
    ((37, 45, 4), np.uint8, r'RGBA: drop the alpha channel'),
    ((37, 45, 1), np.uint8, r'np.repeat'),
    ((2, 3, 37, 45, 3), np.uint8, r'\[H, W, 3\] or a batch \[B, H, W, 3\]'),
    ((0, 45, 3), np.uint8, 'empty image'),
    ((37, 45, 3), np.float32, r'floats in \[0, 1\]: multiply by 255'),
    ((37, 45, 3), np.bool_, 'dtype bool'),
])
def test_segment_names_the_shape_it_needs(zoo_checkpoint, shape, dtype, needs):
  images = np.full(shape, 0.5 if dtype == np.float32 else 1, dtype)
  with pytest.raises(ValueError, match=needs):
    _segmenter(zoo_checkpoint).segment(images)
