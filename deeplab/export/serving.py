"""The serving module: what a SavedModel and a frozen graph hold.

`DeepLabServing` loads a checkpoint into the inference graph (`runtime.load`,
BatchNorm folded, the portable dilated-depthwise kernel) and carries its
serving functions: `serve` (`serving_default`: `ImageTensor` uint8
[batch, height, width, 3] of any size -> `SemanticPredictions` int32
[batch, height, width]), `serve_with_probabilities`
(`serving_probabilities`: also `SemanticProbabilities` float32
[batch, height, width, classes]) and `serve_tiled` (`serving_tiled`: one
image of any size in blended tiles, memory that follows the tile). Inside
each, as the original: resize to range when asked, pad bottom/right with
the mean pixel to the crop (or to the image when it is larger), the
evaluation graph, crop the valid region and resize back
(`inference.segment`). `frozen_graph_def` is the original's deliverable,
`ImageTensor:0` -> `SemanticPredictions:0` with the weights as constants.
"""
import tensorflow as tf

from deeplab import common
from deeplab import configs
from deeplab import inference
from deeplab import runtime
from deeplab import tiling

INPUT_NAME = 'ImageTensor'
OUTPUT_NAME = 'SemanticPredictions'
PROBABILITIES_NAME = 'SemanticProbabilities'
PROBABILITIES_SIGNATURE = 'serving_probabilities'
TILED_SIGNATURE = 'serving_tiled'


def checked_images(images):
  """`images` if they are [batch >= 1, height >= 1, width >= 1, 3], else an
  InvalidArgumentError saying what the input should be and what it is."""
  expected = ('%s must be uint8 [batch, height, width, 3] RGB images with a '
              'batch of at least one; got shape' % INPUT_NAME)
  shape = tf.shape(images)
  # Padded to four entries so that no slice can fail before the check says
  # what is wrong (one Assert: graph optimisations may reorder others).
  first4 = tf.concat([shape, tf.zeros([4], tf.int32)], 0)[:4]
  valid = tf.logical_and(
      tf.equal(tf.size(shape), 4),
      tf.logical_and(tf.equal(first4[3], 3), tf.reduce_all(first4[:3] > 0)))
  checked = tf.debugging.Assert(valid, [expected, shape], name='check_shape')
  with tf.control_dependencies([checked]):
    return tf.ensure_shape(tf.identity(images), [None, None, None, 3])


class DeepLabServing(tf.Module):
  """A tf.Module with the serving function (weights included).

  With `fold_batch_norm` (the default) the exported graph is the folded one
  (`core/folding.py`); `dilated_depthwise` defaults to 'space_to_batch' so
  that the SavedModel runs on any TensorFlow build.
  """

  def __init__(self, options, checkpoint, crop_size=None, resize=None,
               inference_options=None):
    super().__init__(name='deeplab')
    inference_options = (inference_options or
                         configs.ExportConfig().inference)
    self.crop_size = tuple(crop_size) if crop_size else None
    # serving_tiled cuts images larger than a tile (--tile_size, else the
    # crop) into blended tiles: the model carries its tiles.
    inference_options = inference_options.replace(
        tile_size=inference_options.tile_size or
        tiling.default_tile_size(options, self.crop_size))
    # Any input size: the crop only sets the minimum padded size. Only the
    # model that runs is an attribute: the SavedModel holds one set of
    # weights.
    self.model, self.report = runtime.load(options.replace(crop_size=None),
                                           checkpoint, inference_options)
    self.resize = resize or common.ResizeOptions()
    self.options = options
    # Shares the model's weights (its first pass gives the tiles the whole
    # image's image-level feature with --tile_image_pooling=image).
    self._tile_runner = inference.TileRunner(self.model)
    self.tile_pooling = (
        'two passes: the whole image\'s image pooling'
        if self._tile_runner.runs_per_tile == 2 else 'one pass')

  @property
  def tile_size(self):
    """The tiles of `serving_tiled` (`--tile_size`, else the crop)."""
    return self.model.inference_options.tile_size

  @property
  def tile_overlap_pixels(self):
    return self._tile_runner.tile_overlap_pixels

  @classmethod
  def from_config(cls, config, options):
    return cls(options, config.checkpoint_path, config.crop_size,
               config.resize, config.inference)

  def _segment(self, images, probabilities):
    return inference.segment(self.model, images, self.options.model_variant,
                             self.crop_size, self.resize, probabilities)

  # Any shape is accepted at the signature so that a wrong one meets the
  # checks of `checked_images`, which say what is wrong, instead of
  # TensorFlow's shape-matching errors.
  @tf.function(input_signature=[
      tf.TensorSpec(None, tf.uint8, name=INPUT_NAME)])
  def serve(self, images):
    """uint8 images -> {SemanticPredictions}: labels only, so serving runs
    what in-process prediction runs (no softmax at full resolution)."""
    out = self._segment(checked_images(images), probabilities=False)
    return {OUTPUT_NAME: tf.identity(out['predictions'], name=OUTPUT_NAME)}

  @tf.function(input_signature=[
      tf.TensorSpec(None, tf.uint8, name=INPUT_NAME)])
  def serve_with_probabilities(self, images):
    """uint8 images -> {SemanticPredictions, SemanticProbabilities}."""
    out = self._segment(checked_images(images), probabilities=True)
    return {OUTPUT_NAME: tf.identity(out['predictions'], name=OUTPUT_NAME),
            PROBABILITIES_NAME: tf.identity(out['probabilities'],
                                            name=PROBABILITIES_NAME)}

  @tf.function(input_signature=[
      tf.TensorSpec(None, tf.uint8, name=INPUT_NAME)])
  def serve_tiled(self, images):
    """One uint8 image [1, H, W, 3] of any size -> {SemanticPredictions}
    int32 [1, H, W], segmented in blended tiles when larger than a tile
    (memory follows the tile, `deeplab/tiling.py`), else whole."""
    images = checked_images(images)
    with tf.control_dependencies([tf.debugging.assert_equal(
        tf.shape(images)[0], 1, message='%s takes one image at a time, '
        '[1, height, width, 3]' % TILED_SIGNATURE)]):
      images = tf.identity(images)
    size = tf.shape(images)[1:3]
    # Without resizing the tiles take the uint8 image as it is: a float copy
    # would be four times its size.
    resized = inference.resize_images_to_range(
        images, *self.resize.as_tuple()) if self.resize.active else images
    resized_size = tf.shape(resized)[1:3]
    fits = tf.reduce_all(resized_size <= tf.constant(self.tile_size))

    def whole():
      return self._segment(images, probabilities=False)['predictions'][0]

    def tiled():
      labels = self._tile_runner.segment(resized[0])
      labels = tf.cast(labels, tf.int32)
      if self.resize.active:
        labels = inference.resize_nearest(labels[None], size)[0]
      return labels

    labels = tf.cond(fits, whole, tiled)
    return {OUTPUT_NAME: tf.identity(labels[None], name=OUTPUT_NAME)}

  def contract_function(self, probabilities=False, input_size=None):
    """The serving contract as one traced function, for converters
    (tf2onnx, OpenVINO): `ImageTensor` uint8 [batch, height, width, 3] ->
    `SemanticPredictions` int32 [batch, height, width] (and
    `SemanticProbabilities` float32 [..., classes] with `probabilities`).

    Without the input checks of `serve` (converters have no Assert; their
    runtimes check the input's rank, type and channels themselves).

    Args:
      probabilities: Also output the probabilities.
      input_size: (height, width) for a graph whose every shape is static,
        with a batch of one; None: any batch and size.
    """
    shape = ([1, int(input_size[0]), int(input_size[1]), 3] if input_size
             else [None, None, None, 3])
    spec = [tf.TensorSpec(shape, tf.uint8, name=INPUT_NAME)]

    @tf.function(input_signature=spec)
    def contract(images):
      out = self._segment(images, probabilities)
      result = {OUTPUT_NAME: tf.identity(out['predictions'],
                                         name=OUTPUT_NAME)}
      if probabilities:
        result[PROBABILITIES_NAME] = tf.identity(out['probabilities'],
                                                 name=PROBABILITIES_NAME)
      return result

    return contract

  def frozen_graph_def(self):
    """The original's frozen inference graph: ImageTensor:0 uint8
    [1, H, W, 3] -> SemanticPredictions:0 int32 [1, H, W], weights as
    constants."""

    @tf.function(input_signature=[
        tf.TensorSpec([1, None, None, 3], tf.uint8, name=INPUT_NAME)])
    def labels_only(images):
      labels = self._segment(images, probabilities=False)['predictions']
      return tf.identity(labels, name=OUTPUT_NAME)

    from tensorflow.python.framework import convert_to_constants  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
    frozen = convert_to_constants.convert_variables_to_constants_v2(
        labels_only.get_concrete_function())
    return frozen.graph.as_graph_def()
