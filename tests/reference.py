"""Access to the reference vectors of the original implementation.

The data lives in `tests/data/reference/` (see its README for provenance).
`manifest_values` re-implements the documented seed recipe that produced the
reference checkpoints, so tests can regenerate any of them.
"""
import glob
import json
import os
import zlib

import numpy as np

from deeplab import common

DATA_DIR = os.path.join(os.path.dirname(__file__), 'data', 'reference')
VECTOR_IDS = ('P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P8', 'P9', 'P10',
              'P11', 'P12')
MANIFESTS = ('xception_41', 'xception_65', 'xception_71', 'resnet_v1_101_beta',
             'mobilenet_v3_large_seg_cityscapes',
             'mobilenet_v3_small_seg_cityscapes', 'xception_71_dpc_cityscapes',
             'mobilenet_edgetpu_cityscapes',
             'mobilenet_edgetpu_dm0.75_cityscapes', 'mobilenet_v2_ade20k',
             'mobilenet_v2_modelzoo')

_UNIFORM = {'moving_variance': (0.5, 1.5), 'moving_mean': (-0.1, 0.1),
            'gamma': (0.5, 1.5), 'beta': (-0.1, 0.1),
            'biases': (-0.01, 0.01), 'bias': (-0.01, 0.01)}


def deterministic_value(name, shape, dtype='float32', seed=0):
  """The value the reference recipe gives variable `name`."""
  rs = np.random.RandomState(
      (zlib.crc32(name.encode('utf-8')) ^ (seed * 2654435761)) & 0xFFFFFFFF)
  shape = tuple(int(s) for s in shape)
  leaf = name.split('/')[-1]
  if dtype.startswith('int'):
    return np.zeros(shape, dtype)
  if leaf in _UNIFORM:
    value = rs.uniform(*_UNIFORM[leaf], size=shape)
  elif leaf in ('weights', 'depthwise_weights', 'pointwise_weights', 'kernel'):
    if leaf == 'depthwise_weights':
      fan_in = shape[0] * shape[1]
    elif len(shape) == 4:
      fan_in = shape[0] * shape[1] * shape[2]
    elif len(shape) == 2:
      fan_in = shape[0]
    else:
      fan_in = 1
    value = np.clip(rs.standard_normal(size=shape), -2.0, 2.0) * np.sqrt(
        1.0 / max(1, fan_in))
  else:
    value = rs.uniform(-0.1, 0.1, size=shape)
  return value.astype(dtype)


def load_manifest(name):
  """The manifest dict of `name` (e.g. 'xception_65')."""
  with open(os.path.join(DATA_DIR, 'manifests', name + '.json')) as f:
    return json.load(f)


def manifest_values(manifest, seed=0):
  """name -> array for every variable of a manifest dict."""
  return {v['name']: deterministic_value(v['name'], v['shape'], v['dtype'],
                                         seed)
          for v in manifest['variables']}


def options_from_build_kwargs(variant, build_kwargs, **overrides):
  """ModelOptions equal to the reference's build options."""
  kw = dict(build_kwargs)
  kwargs = dict(
      outputs_to_num_classes={common.OUTPUT_TYPE: kw['num_classes']},
      crop_size=kw['crop_size'], atrous_rates=kw['atrous_rates'],
      output_stride=kw['output_stride'],
      decoder_output_stride=kw['decoder_output_stride'],
      multi_grid=kw['multi_grid'],
      aspp_with_separable_conv=kw['aspp_with_separable_conv'],
      decoder_use_separable_conv=kw['decoder_use_separable_conv'],
      add_image_level_feature=kw['add_image_level_feature'],
      depth_multiplier=kw['depth_multiplier'],
      image_pooling_crop_size=kw['image_pooling_crop_size'],
      model_variant=variant)
  # The options of the later vectors (P7-P12), where given.
  for name in ('image_pooling_stride', 'aspp_convs_filters',
               'aspp_with_concat_projection',
               'aspp_with_squeeze_and_excitation', 'decoder_use_sum_merge',
               'decoder_filters', 'decoder_output_is_logits',
               'image_se_uses_qsigmoid'):
    if name in kw:
      kwargs[name] = kw[name]
  if kw.get('dense_prediction_cell_json'):
    kwargs['dense_prediction_cell_config'] = {
        'json': kw['dense_prediction_cell_json']}
  kwargs.update(overrides)
  return common.ModelOptions(**kwargs)


def load_vector(vector_id):
  """(arrays, sidecar) of a vector such as 'P2'."""
  path, = glob.glob(os.path.join(DATA_DIR, 'vectors', vector_id + '_*.npz'))
  with open(path[:-4] + '.json') as f:
    sidecar = json.load(f)
  with np.load(path) as npz:
    arrays = {k: npz[k] for k in npz.files}
  return arrays, sidecar


def vector_model(vector_id, build):
  """(arrays, options, model) of a vector: `build(options)` with every
  variable set to the vector's seed-0 reference values."""
  arrays, sidecar = load_vector(vector_id)
  options = options_from_build_kwargs(sidecar['variant'],
                                      sidecar['build_kwargs'])
  model = build(options)
  values = manifest_values(load_manifest(vector_manifest_name(sidecar)))
  from deeplab.core import names  # pylint: disable=g-import-not-at-top
  for name, var in names.tf1_variable_map(model).items():
    var.assign(values[name])
  return arrays, options, model


def vector_manifest_name(sidecar):
  return os.path.basename(sidecar['manifest'])[:-len('.json')]


def upsample_align_corners(logits, size):
  """float64 NumPy align-corners bilinear resize of [1, h, w, c] logits."""
  x = np.asarray(logits, np.float64)[0]
  h, w = x.shape[:2]
  out_h, out_w = size

  def axis(n_in, n_out):
    pos = np.arange(n_out) * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, pos - lo

  y0, y1, fy = axis(h, out_h)
  x0, x1, fx = axis(w, out_w)
  top = x[y0][:, x0] * (1 - fx)[None, :, None] + x[y0][:, x1] * fx[None, :, None]
  bot = x[y1][:, x0] * (1 - fx)[None, :, None] + x[y1][:, x1] * fx[None, :, None]
  return top * (1 - fy)[:, None, None] + bot * fy[:, None, None]


def near_tie_mask(logits, crop, image_hw, margin=1e-4):
  """Pixels of the image whose reference top-2 margin is below `margin`."""
  up = upsample_align_corners(logits, crop)[:image_hw[0], :image_hw[1]]
  top2 = np.sort(up, axis=-1)[..., -2:]
  return (top2[..., 1] - top2[..., 0]) < margin


def write_checkpoint(values, prefix):
  """Writes name -> array as a TF1-style name-based V2 checkpoint."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(prefix), exist_ok=True)
  names = sorted(values)
  tf.raw_ops.SaveV2(prefix=tf.constant(prefix), tensor_names=tf.constant(names),
                    shape_and_slices=tf.constant([''] * len(names)),
                    tensors=[tf.constant(values[n]) for n in names])
  return prefix


def write_reference_checkpoint(manifest_name, directory, seed=0, drop=(),
                               extra=None):
  """The reference checkpoint of a manifest, optionally altered.

  Args:
    drop: names (or name prefixes ending in '/') to leave out.
    extra: name -> array to add (or replace).
  """
  values = manifest_values(load_manifest(manifest_name), seed)
  values = {k: v for k, v in values.items()
            if not any(k == d or (d.endswith('/') and k.startswith(d))
                       for d in drop)}
  values.update(extra or {})
  return write_checkpoint(values, os.path.join(directory, 'model.ckpt'))
