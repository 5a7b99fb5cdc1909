"""`deeplab-vis` / vis.py: visualises predictions (the original's vis.py)."""
from deeplab import configs
from deeplab.cli import command
from deeplab.cli import flag_tables
from deeplab.cli import run_settings

DOC = '''Visualises DeepLab predictions (the original's vis.py).

One iteration is one pass over the whole split with the latest checkpoint;
the folder is polled for new checkpoints --max_number_of_iterations times
(forever when it is not positive). Writes segmentation_results/ and, with
--also_save_raw_predictions, raw_segmentation_results/ under --vis_logdir.

Examples:
  python vis.py --checkpoint_dir=/runs/voc --vis_logdir=/runs/voc/vis \\
    --dataset=pascal_voc_seg --vis_split=val --dataset_dir=/data/voc/tfrecord
  python vis.py --checkpoint_dir=/runs/voc --vis_logdir=/tmp/vis \\
    --image_path=/photos        # plain images, no TFRecords'''

GROUPS = flag_tables.inference_command_groups(
    'Visualization', 'vis.py', flag_tables.VIS_FLAGS,
    flag_tables.VIS_EXTRA_FLAGS, configs.VisConfig, 16,
    flag_tables.UNSUPPORTED_INFERENCE_FLAGS)


def job(fv):
  """Visualises the split or the images the flags name."""
  from deeplab import visualize  # pylint: disable=g-import-not-at-top
  config, options = run_settings.job_settings(
      fv, configs.VisConfig, 'checkpoint_dir', 'vis_crop_size', lazy=True)
  count = visualize.run(config, options)
  return ['Wrote %d visualisation%s to %s' % (count, '' if count == 1 else 's',
                                              config.vis_logdir)]


main = command.entry_point(DOC, GROUPS, job)
