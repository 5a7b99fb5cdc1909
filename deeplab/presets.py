"""`from_preset`: a model-zoo name or a checkpoint folder to a ready model.

Like keras-hub's `from_preset`: a zoo name is imported once into
`<cache_dir>/presets/<name>_os<stride>` (downloading where needed), a
folder (this project's checkpoint folder, a training logdir, a zoo import)
is read as it is.
"""
import os

from deeplab import common
from deeplab import rundir
from deeplab import runtime
from deeplab import segmenter
from deeplab import zoo


def from_preset(name_or_folder, output_stride=None, source=None,
                inference_options=None):
  """A ready `Segmenter` of a zoo name or a checkpoint folder.

      model = deeplab.from_preset('mobilenetv2_coco_voc_trainaug')
      labels = model.segment(image)   # uint8 [H, W, 3] -> int32 [H, W]

  Args:
    name_or_folder: A zoo name or a folder.
    output_stride: The published row (zoo names; None: the first).
    source: Where the tarball is (`zoo.fetch`).
    inference_options: `common.InferenceOptions` (default: the published
      row's scales and flips).

  Returns:
    A `segmenter.Segmenter` (any input size) with a `segment` method,
    `class_names` (None when unknown) and `colormap` (for
    `colormaps.label_to_color_image`).
  """
  folder = name_or_folder
  if not os.path.isdir(folder):
    entry = zoo.get(name_or_folder)
    stride = output_stride or entry.row().output_stride
    folder = os.path.join(zoo.cache_dir(), 'presets',
                          '%s_os%d' % (entry.name, stride))
    if rundir.read_zoo_file(folder) is None:
      zoo.import_checkpoint(entry.name, folder, source, stride)
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
