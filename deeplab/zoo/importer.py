"""Importing a zoo checkpoint: a published tarball to a checkpoint folder
of this project.

`import_checkpoint` finds the checkpoint in the tarball (or takes the one
given), loads it strictly into the entry's model and writes a checkpoint
folder: the weights under the original names, `model_options.json` and
`zoo.json` (the entry, the published row chosen by the output stride, the
dataset with its class names and colour map). eval.py, vis.py,
deeplab-predict and export_model.py run such a folder with no model flags
and with the row's eval scales, flips and crop (flags that are set win).
"""
import os
import tempfile

from deeplab import checkpoints
from deeplab import files
from deeplab import model as model_lib
from deeplab import rundir
from deeplab.data import datasets
from deeplab.zoo import catalog
from deeplab.zoo import download


def is_zoo_folder(path):
  """Whether `path` is a folder this module wrote (it may be replaced)."""
  if not os.path.isdir(path):
    return False
  names = set(os.listdir(path))
  return rundir.ZOO_FILE in names and names <= {
      rundir.ZOO_FILE, rundir.OPTIONS_FILE, 'checkpoint',
      checkpoints.CHECKPOINT_PREFIX + '.index',
      checkpoints.CHECKPOINT_PREFIX + '.data-00000-of-00001'}


def import_checkpoint(name, output_dir, source=None, output_stride=None):
  """Imports a zoo checkpoint into a checkpoint folder of this project.

  Args:
    name: The entry's name.
    output_dir: The folder to write (refused when it holds anything else
      than an import of this command).
    source: See `download.fetch`.
    output_stride: The published row to set up (None: the first).

  Returns:
    (the entry, the `checkpoints.LoadReport`).
  """
  entry = catalog.get(name)
  options = entry.model_options(output_stride)
  row = entry.row(output_stride)
  files.recover_folder(output_dir, is_zoo_folder)
  files.check_replaceable(output_dir, is_zoo_folder, 'output_dir')
  previous = (rundir.read_zoo_file(output_dir) if os.path.isdir(output_dir)
              else None)
  if previous and (previous.get('name'), previous.get('row', {}).get(
      'output_stride')) != (entry.name, row.output_stride):
    raise catalog.ZooError(
        '--output_dir=%s already holds another model (%s at output stride '
        '%s); it is left untouched. Choose another --output_dir, or remove '
        'that folder yourself.' % (
            output_dir, previous.get('name'),
            previous.get('row', {}).get('output_stride')))
  local = download.fetch(entry, source)
  with tempfile.TemporaryDirectory(prefix='deeplab-zoo-') as workdir:
    prefix = download.unpack_checkpoint(local, workdir)
    model = model_lib.build_model(options)
    try:
      report = checkpoints.load_weights(model, prefix,
                                        backbone_only=entry.backbone_only)
    except checkpoints.CheckpointMismatchError as e:
      raise catalog.ZooError('The checkpoint in %s is not %s (%s, %s): %s' % (
          local, entry.name, entry.model_variant, entry.dataset or 'ImageNet',
          str(e).splitlines()[0] + ' ' + ' '.join(
              str(e).splitlines()[1:4]))) from e
    info = dict(name=entry.name, url=entry.url, source=os.path.abspath(local),
                row=row.to_dict(), defaults=entry.eval_defaults(
                    row.output_stride),
                backbone_only=entry.backbone_only, dataset=entry.dataset)
    if entry.dataset:
      descriptor = datasets.BUILTIN[entry.dataset]
      info.update(class_names=descriptor.class_names,
                  colormap=datasets.colormap_for(entry.dataset))
    info['defaults'] = {k: list(v) if isinstance(v, tuple) else v
                        for k, v in info['defaults'].items()}

    def write(folder):
      checkpoints.save_weights(model, folder, options)
      rundir.write_zoo_file(folder, info)

    files.replace_folder(output_dir, write, is_zoo_folder, 'output_dir')
  return entry, report
