r"""Checks a segmentation dataset before conversion and training, in one go.

  deeplab-check-data --image_folder=data/images --label_folder=data/masks \
      --num_classes=3 [--ignore_label=255] [--list_folder=data/lists] \
      [--crop_size=513,513] [--json_output=report.json] [--chart=classes.png]
  deeplab-check-data --dataset_dir=data/tfrecord [--dataset=my_data] \
      [--split=train]

Every problem is listed with the file that has it (not only the first):
images without a mask and masks without an image, files that do not decode
or are truncated, masks of another size than their image, colour masks
(RGB) where class ids are expected, palette masks whose indices are not
class ids, label values outside [0, num_classes) other than the ignore
label, images smaller than the training crop, the same image in two
splits, classes absent from a split. Then, per split: images and pixels per
class, the share of ignored pixels, image sizes, and a `--label_weights`
line to paste (median-frequency balancing: a class's weight is the median
of the classes' pixel shares divided by its own share, clipped to
[0.1, 10]; classes without pixels get 1).

Exits with status 1 when training would go wrong (an error above), 0 when
there are only warnings (small images, absent classes, duplicates).
Files are read in parallel and never held: memory stays flat however large
the dataset.
"""
import os
import sys

from deeplab import common
from deeplab import files
from deeplab.cli import command
from deeplab.cli import flags as flag_lib

_FLAGS = {
    'image_folder': ('string', 'Folder of images (as the converters take '
                     'it).', dict(default=None)),
    'label_folder': ('string', 'Folder of masks named <image name>.png.',
                     dict(default=None)),
    'list_folder': ('string', 'Folder of <split>.txt lists (default: one '
                    'split "all").', dict(default=None)),
    'dataset_dir': ('string', 'Or: a folder of converted TFRecords (with '
                    'its dataset.json, or --dataset).', dict(default=None)),
    'dataset': ('string', 'With --dataset_dir: a built-in dataset name or a '
                'dataset.json.', dict(default=None)),
    'split': ('string', 'With --dataset_dir: one split (default: all).',
              dict(default=None)),
    'num_classes': ('integer', 'Number of classes (default: the '
                    'dataset.json\'s with --dataset_dir).',
                    dict(default=None)),
    'ignore_label': ('integer', 'The label of ignored pixels.',
                     dict(default=None)),
    'crop_size': ('crop_size', 'Report images smaller than this training '
                  'crop "H,W".', dict(default=None)),
    'class_names': ('list', 'Class names in id order, for the table.',
                    dict(default=None)),
    'json_output': ('string', 'Also write the report as JSON here.',
                    dict(default=None)),
    'chart': ('string', 'Also write a bar chart of the class pixel shares '
              '(PNG) here.', dict(default=None)),
    'workers': ('integer', 'Parallel readers (default: the CPU count).',
                dict(default=None)),
}


def job(fv):
  """Checks the dataset the flags name; the lines to print (exits with
  status 1 after printing them when training would go wrong)."""
  # pylint: disable=g-import-not-at-top
  from deeplab.datasets import check_data
  crop = flag_lib.flatten(fv.crop_size) if fv.crop_size else None
  crop = common.parse_crop_size(crop, 'crop_size') if crop else None
  class_names = fv.class_names
  if fv.dataset_dir:
    from deeplab.data import datasets  # pylint: disable=g-import-not-at-top
    descriptor = datasets.get_dataset(fv.dataset or os.path.join(
        fv.dataset_dir, datasets.DESCRIPTION_FILE), fv.dataset_dir)
    num_classes = fv.num_classes or descriptor.num_classes
    ignore = descriptor.ignore_label if fv.ignore_label is None else (
        fv.ignore_label)
    class_names = class_names or descriptor.class_names
    report = check_data.check(
        check_data.record_pairs(fv.dataset_dir, fv.dataset, fv.split),
        num_classes, ignore, crop, fv.workers, from_records=True,
        source='the records of --dataset_dir=%s hold no image' % fv.dataset_dir)
  else:
    if not (fv.image_folder and fv.label_folder):
      raise ValueError('Give --image_folder and --label_folder (or '
                       '--dataset_dir for converted records).')
    if not fv.num_classes:
      raise ValueError('--num_classes is required with --image_folder.')
    report = check_data.check(
        check_data.folder_pairs(fv.image_folder, fv.label_folder,
                                fv.list_folder), fv.num_classes,
        255 if fv.ignore_label is None else fv.ignore_label, crop,
        fv.workers, source='--image_folder=%s and --label_folder=%s hold no '
        'image or mask%s' % (fv.image_folder, fv.label_folder,
                             ' listed in --list_folder=%s' % fv.list_folder
                             if fv.list_folder else ''))
  lines = check_data.format_report(report, class_names)
  if fv.json_output:
    files.write_json(fv.json_output, report.to_dict(), indent=1)
    lines.append('wrote ' + fv.json_output)
  if fv.chart:
    check_data.bar_chart(report, fv.chart, class_names)
    lines.append('wrote ' + fv.chart)
  if report.failed:
    for line in lines:
      print(line)
    sys.exit(1)
  return lines


GROUPS = [flag_lib.FlagGroup('Check', _FLAGS)]


main = command.entry_point(__doc__, GROUPS, job)
