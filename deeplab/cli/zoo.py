r"""The original's model zoo by name: a published checkpoint to a working model.

Every checkpoint of the original's `g3doc/model_zoo.md` (its latest
revision) and `g3doc/quantize.md` is an `Entry` of `ENTRIES`: its published
name, tarball, backbone and every model option, the dataset it was trained
on, and each published evaluation (`Row`: output stride, eval scales, flip,
mIoU, Multiply-Adds).

  deeplab-zoo --list [--json]
  deeplab-zoo --name=xception65_coco_voc_trainaug [--output_stride=8] \
      [--source=URL|TARBALL|FOLDER] --output_dir=zoo/x65_voc_os8

downloads the tarball (or takes the one given), finds the checkpoint in it,
loads it strictly into the right model and writes a checkpoint folder of
this project: the weights under the original names, `model_options.json`
and `zoo.json` (the entry, the published row chosen by `--output_stride`,
and the dataset with its class names and colour map). eval.py, vis.py,
deeplab-predict and export_model.py run such a folder with no model flags
and with the row's eval scales, flips and crop (flags that are set win).
In Python, `deeplab.from_preset(name_or_folder)` returns the ready model.

Downloads go to `$DEEPLAB_HOME` (default `~/.cache/deeplab`), resume where
they stopped, and are checked for size and completeness before use.
"""
import json

from deeplab.cli import command
from deeplab.cli import flags as flag_lib
from deeplab.zoo import catalog

_FLAGS = {
    'list': ('boolean', 'List every entry (name, dataset, backbone, size, '
             'published mIoU).', dict(default=False)),
    'json': ('boolean', 'With --list: one JSON document, a list with an '
             'object per entry.',
             dict(default=False)),
    'name': ('string', 'The entry to import (a name of --list).',
             dict(default=None)),
    'source': ('string', 'Where the tarball is: a URL, a downloaded tarball, '
               'or the folder it was unpacked into (default: the published '
               'URL, cached under $DEEPLAB_HOME or ~/.cache/deeplab).',
               dict(default=None)),
    'output_dir': ('string', 'The checkpoint folder to write (eval.py, '
                   'vis.py, deeplab-predict and export_model.py take it '
                   'with no model flags).', dict(default=None)),
    'output_stride': ('integer', 'The published evaluation to set up, by '
                      'its output stride (default: the first one listed).',
                      dict(default=None)),
}


def _format_row(row):
  """A published evaluation: 'stride 16, scale 1: 75.32% val'."""
  scales = ('scale %g' % row.eval_scales[0] if len(row.eval_scales) == 1
            else 'scales %g-%g' % (row.eval_scales[0], row.eval_scales[-1]))
  return 'stride %d, %s%s: %s' % (
      row.output_stride, scales, ' + flip' if row.add_flipped_images else '',
      '%.2f%% %s' % (row.miou, row.split) if row.miou else '-')


def listing(as_json=False):
  """The `--list` lines: a table (an entry this version cannot build says
  so in its last column), or one JSON document."""
  if as_json:
    return [json.dumps([e.summary() for e in catalog.ENTRIES], indent=1)]
  lines = ['%-40s %-14s %-22s %-6s %s' % (
      'name', 'dataset', 'backbone', 'size',
      'published mIoU (output stride, eval scales)')]
  for e in catalog.ENTRIES:
    published = '; '.join(_format_row(r) for r in e.rows) or (
        'backbone only')
    lines.append('%-40s %-14s %-22s %-6s %s' % (
        e.name, e.dataset or 'ImageNet', e.model_variant + (
            ' dm%g' % e.options['depth_multiplier']
            if 'depth_multiplier' in e.options else ''), e.size,
        published if e.built else 'cannot be built: ' + e.unbuilt_reason()))
  return lines


def job(fv):
  """Lists the zoo or imports an entry; the lines to print."""
  if fv.list:
    return listing(fv.json)
  if not fv.name or not fv.output_dir:
    raise catalog.ZooError('Give --name and --output_dir (or --list).')
  from deeplab.zoo import importer  # pylint: disable=g-import-not-at-top
  entry, report = importer.import_checkpoint(fv.name, fv.output_dir,
                                             fv.source, fv.output_stride)
  row = entry.row(fv.output_stride)
  return ['%s: %s' % (entry.name, report.summary()),
          'Wrote %s (%s at output stride %d%s).' % (
              fv.output_dir, entry.model_variant, row.output_stride,
              '; published %s' % _format_row(row) if row.miou else ''),
          'Run it with no model flags, e.g.: deeplab-predict --checkpoint=%s '
          '--image=photo.jpg --output_png=labels.png' % fv.output_dir]


GROUPS = [flag_lib.FlagGroup('Model zoo', _FLAGS)]


main = command.entry_point(__doc__, GROUPS, job)
