"""Each preprocessing step against hand-computed expectations."""
import numpy as np
import pytest
import tensorflow as tf

from deeplab.data import input_preprocess as ip


def _image(h, w):
  return tf.constant(np.arange(h * w * 3, dtype=np.float32).reshape(h, w, 3))


def _label(h, w):
  return tf.constant((np.arange(h * w) % 5).astype(np.int32).reshape(h, w, 1))


@pytest.mark.parametrize('shape, min_size, max_size, factor, expected', [
    ((100, 200), 50, 80, None, (40, 80)),    # Long side would be 100 > 80.
    ((100, 200), 50, 120, None, (50, 100)),  # Short side rule fits.
    ((100, 200), 50, 80, 8, (41, 73)),       # max 80 -> 73; sides 8k+1.
    ((300, 500), 513, 513, 16, (321, 513)),
    ((60, 40), 20, None, None, (30, 20)),
])
def test_resize_to_range_sizes(shape, min_size, max_size, factor, expected):
  image, label = ip.resize_to_range(_image(*shape), _label(*shape), min_size,
                                    max_size, factor)
  assert tuple(image.shape[:2]) == expected
  assert tuple(label.shape[:2]) == expected
  assert label.dtype == tf.int32


def test_resize_is_align_corners_and_label_nearest():
  image = tf.constant([[[0.], [10.]], [[20.], [30.]]])
  label = tf.constant([[[1], [2]], [[3], [4]]])
  out, lab = ip.resize_to_range(image, label, min_size=3)
  np.testing.assert_allclose(out[..., 0], [[0, 5, 10], [10, 15, 20],
                                           [20, 25, 30]])
  assert set(np.unique(lab.numpy())) <= {1, 2, 3, 4}
  assert lab[0, 0, 0] == 1 and lab[2, 2, 0] == 4


def test_random_scale_values():
  assert float(ip.get_random_scale(1.0, 1.0, 0)) == 1.0
  seen = {round(float(ip.get_random_scale(0.5, 2.0, 0.25)), 4)
          for _ in range(200)}
  assert seen == {0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0}
  values = [float(ip.get_random_scale(0.5, 2.0, 0)) for _ in range(50)]
  assert min(values) >= 0.5 and max(values) < 2.0 and len(set(values)) > 40
  with pytest.raises(ValueError, match='min_scale_factor'):
    ip.get_random_scale(2.0, 1.0, 0)


def test_randomly_scale_image_and_label():
  image, label = ip.randomly_scale_image_and_label(_image(10, 20),
                                                   _label(10, 20), 0.55)
  assert tuple(image.shape[:2]) == (5, 11)  # int(10*0.55), int(20*0.55).
  assert tuple(label.shape[:2]) == (5, 11)
  same, _ = ip.randomly_scale_image_and_label(_image(4, 4), _label(4, 4), 1.0)
  np.testing.assert_array_equal(same, _image(4, 4))


def test_pad_with_mean_pixel_and_ignore_label():
  image = ip.pad_to_bounding_box(tf.zeros([2, 3, 3]), 0, 0, 4, 5,
                                 tf.constant([[[127.5, 127.5, 127.5]]]))
  assert image.shape == (4, 5, 3)
  np.testing.assert_array_equal(image[:2, :3], 0)
  np.testing.assert_array_equal(image[2:], 127.5)
  np.testing.assert_array_equal(image[:, 3:], 127.5)
  label = ip.pad_to_bounding_box(tf.ones([2, 3, 1], tf.int32), 0, 0, 4, 5, 255)
  assert label[3, 4, 0] == 255 and label[1, 2, 0] == 1


def test_random_crop_and_flip_keep_image_and_label_aligned():
  h, w = 12, 17
  coords = np.stack(np.mgrid[:h, :w], -1).astype(np.float32)
  image = tf.constant(np.concatenate([coords, np.zeros((h, w, 1))], -1),
                      tf.float32)
  label = tf.constant((coords[..., :1] * 100 + coords[..., 1:2]).astype(
      np.int32))
  for seed in range(10):
    tf.random.set_seed(seed)
    img, lab = ip.random_crop(image, label, 5, 6)
    img, lab = ip.random_flip(img, lab)
    np.testing.assert_array_equal(
        lab[..., 0], (img[..., 0] * 100 + img[..., 1]).numpy().astype(int))


def test_training_path_shapes_and_padding():
  tf.random.set_seed(0)
  _, image, label = ip.preprocess_image_and_label(
      tf.cast(_image(20, 30), tf.uint8), tf.cast(_label(20, 30), tf.uint8),
      33, 33, min_scale_factor=0.5, max_scale_factor=2.0,
      scale_factor_step_size=0.25, ignore_label=255, is_training=True,
      model_variant='xception_65')
  assert image.shape == (33, 33, 3) and label.shape == (33, 33, 1)
  assert image.dtype == tf.float32 and label.dtype == tf.int32
  with pytest.raises(ValueError, match='label must be provided'):
    ip.preprocess_image_and_label(_image(4, 4), None, 5, 5)


def test_eval_path_pads_bottom_right_only():
  image = tf.cast(_image(20, 30) % 250, tf.uint8)
  original, processed, label = ip.preprocess_image_and_label(
      image, tf.cast(_label(20, 30), tf.uint8), 33, 41, is_training=False,
      model_variant='resnet_v1_101')
  np.testing.assert_array_equal(processed[:20, :30], tf.cast(image,
                                                             tf.float32))
  np.testing.assert_allclose(processed[25, 35], [123.15, 115.90, 103.06],
                             rtol=1e-6)
  assert label[32, 40, 0] == 255
  np.testing.assert_array_equal(original, image)
  with pytest.raises(tf.errors.InvalidArgumentError, match='eval_crop_size'):
    ip.preprocess_image_and_label(image, None, 17, 41, is_training=False)


@pytest.mark.parametrize('label_shape,crop', [((8, 9, 1), (5, 6)),
                                              ((10, 12, 1), (11, 6))])
def test_random_crop_refuses_mismatched_sizes(label_shape, crop):
  """As the original: a label of another size, or a crop larger than the
  image, is an error, not a short label."""
  image = tf.zeros((10, 12, 3))
  label = tf.zeros(label_shape, tf.uint8)
  with pytest.raises(tf.errors.InvalidArgumentError, match='random_crop'):
    ip.random_crop(image, label, *crop)
