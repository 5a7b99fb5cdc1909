r"""The original's model zoo by name: a published checkpoint to a working model.

  catalog.py   every published checkpoint as data (`ENTRIES`, `get`)
  download.py  downloads to `$DEEPLAB_HOME`, resumed and checked
  importer.py  a tarball to a checkpoint folder of this project

  deeplab-zoo --list [--json]
  deeplab-zoo --name=xception65_coco_voc_trainaug [--output_stride=8] \
      [--source=URL|TARBALL|FOLDER] --output_dir=zoo/x65_voc_os8

In Python, `deeplab.from_preset(name_or_folder)` returns the ready model.
The names below are the package's public API (`from deeplab import zoo`);
the catalogue and the downloads load no TensorFlow (`deeplab-zoo --list`
starts at once), the importer's names load it when first used.
"""
from deeplab.rundir import read_zoo_file
from deeplab.zoo.catalog import ASPP_RATES
from deeplab.zoo.catalog import BY_NAME
from deeplab.zoo.catalog import DATASET_EVAL
from deeplab.zoo.catalog import DOWNLOAD_ROOT
from deeplab.zoo.catalog import ENTRIES
from deeplab.zoo.catalog import Entry
from deeplab.zoo.catalog import get
from deeplab.zoo.catalog import Row
from deeplab.zoo.catalog import ZooError
from deeplab.zoo.download import cache_dir
from deeplab.zoo.download import fetch
from deeplab.zoo.download import tarball_problem
from deeplab.zoo.download import unpack_checkpoint

__all__ = ['ASPP_RATES', 'BY_NAME', 'DATASET_EVAL', 'DOWNLOAD_ROOT', 'ENTRIES',
           'Entry', 'Row', 'ZooError', 'cache_dir', 'fetch', 'get',
           'import_checkpoint', 'is_zoo_folder', 'read_zoo_file',
           'tarball_problem', 'unpack_checkpoint']


def __getattr__(name):
  if name in ('import_checkpoint', 'is_zoo_folder'):
    from deeplab.zoo import importer  # pylint: disable=g-import-not-at-top
    return getattr(importer, name)
  raise AttributeError('module %r has no attribute %r' % (__name__, name))
