"""`from_preset`: a model-zoo name or a checkpoint folder to a ready model.

Like keras-hub's `from_preset`: a zoo name is imported once into
`<cache_dir>/presets/<name>_os<stride>` (downloading where needed), a
folder (this project's checkpoint folder, a training logdir, a zoo import)
is read as it is.
"""
import os
import re

from deeplab import common
from deeplab import rundir
from deeplab import runtime
from deeplab import segmenter
from deeplab import zoo


def python_terms(message, name):
  """A model-zoo message in the terms of `from_preset` (its arguments, not
  the command line's flags)."""
  message = re.sub(r'pass it: --source=(\S+) \(', lambda m: (
      'pass it: deeplab.from_preset(%r, source=%r) (' % (name, m.group(1))),
      message)
  message = message.replace('Run "deeplab-zoo --list" for every name.',
                            'sorted(deeplab.zoo.BY_NAME) lists every name; a '
                            'checkpoint folder is given by its path.')
  message = message.replace('--source=', 'source=')
  return message.replace('Run the same command again', 'Call it again')


def from_preset(name_or_folder, output_stride=None, source=None,
                inference_options=None):
  """A ready `Segmenter` of a zoo name or a checkpoint folder.

      model = deeplab.from_preset('mobilenetv2_coco_voc_trainaug')
      labels = model.segment(image)   # uint8 [H, W, 3] -> int32 [H, W]

  Args:
    name_or_folder: A zoo name or a folder.
    output_stride: The published row (zoo names; None: the first).
    source: Where the release tarball is, when it cannot be downloaded here
      (no network): its path, the folder it was unpacked into, or another
      URL; e.g. `from_preset('mobilenetv2_coco_voc_trainaug',
      source='/data/deeplabv3_mnv2_pascal_train_aug_2018_01_29.tar.gz')`.
    inference_options: `common.InferenceOptions` (default: the published
      row's scales and flips).

  Raises:
    zoo.ZooError: naming what is missing and the argument that fixes it
      (an unknown name, no network without `source`).

  Returns:
    A `segmenter.Segmenter` (any input size) with a `segment` method,
    `class_names` (None when unknown) and `colormap` (for
    `colormaps.label_to_color_image`).
  """
  folder = name_or_folder
  if not os.path.isdir(folder):
    try:
      entry = zoo.get(name_or_folder)
    except zoo.ZooError as e:
      raise zoo.ZooError(python_terms(str(e), name_or_folder)) from None
    stride = output_stride or entry.row().output_stride
    folder = os.path.join(zoo.cache_dir(), 'presets',
                          '%s_os%d' % (entry.name, stride))
    if rundir.read_zoo_file(folder) is None:
      try:
        zoo.import_checkpoint(entry.name, folder, source, stride)
      except zoo.ZooError as e:
        # The network's own traceback says nothing the message does not.
        raise zoo.ZooError(python_terms(str(e), entry.name)) from None
  options = rundir.load_options(folder)
  if options is None:
    raise zoo.ZooError('%s has no %s: it is not a checkpoint folder of this '
                       'project.' % (folder, rundir.OPTIONS_FILE))
  info = rundir.read_zoo_file(folder) or {}
  defaults = info.get('defaults', {})
  if inference_options is None:
    inference_options = common.InferenceOptions(
        eval_scales=tuple(defaults.get('eval_scales', (1.0,))),
        add_flipped_images=defaults.get('add_flipped_images', False))
  model, _ = runtime.load(options.replace(crop_size=None), folder,
                          inference_options)
  # A training logdir names its dataset in train_config.json: its classes
  # and colours, as deeplab-predict shows them.
  run_names, run_colormap = rundir.classes_of(folder)
  return segmenter.Segmenter(
      model, class_names=info.get('class_names') or run_names,
      colormap=run_colormap,
      eval_crop_size=tuple(defaults.get('eval_crop_size', ())) or None)
