"""What a user reads: every command of a run, at the default log level,
prints no line over 300 characters and no line twice."""
import collections
import os

import pytest

import helpers
import test_own_data

LONGEST = 300
# Library internals a user has no use for (TensorFlow's INFO lines, the
# deprecated TFLite interpreter's warning).
NOISE = ('Sharding callback duration', 'with unsupported characters',
         'Writing fingerprint', 'tf.lite.Interpreter is deprecated')


def _lines(out):
  """The lines a terminal shows (a progress line rewritten with '\\r'
  shows its last state)."""
  lines = []
  for stream in (out.stdout, out.stderr):
    for line in stream.splitlines():
      shown = line.split('\r')[-1].rstrip()
      if shown:
        lines.append(shown)
  return lines


def _check(args, cwd, env):
  out = helpers.run(args, cwd=cwd, env=env, timeout=900)
  assert out.returncode == 0, (args, out.stderr[-3000:])
  lines = _lines(out)
  long_lines = [l for l in lines if len(l) > LONGEST]
  assert not long_lines, (args[0], [l[:400] for l in long_lines])
  twice = [l for l, n in collections.Counter(lines).items() if n > 1]
  assert not twice, (args[0], twice)
  noise = [l for l in lines if any(n in l for n in NOISE)]
  assert not noise, (args[0], noise)
  return out


@pytest.mark.slow
def test_every_command_prints_short_lines_once(tmp_path):
  test_own_data.make_leaves(str(tmp_path / 'my_data'), count=8)
  # The user's environment: no log level set for TensorFlow.
  env = helpers.environment(TF_CPP_MIN_LOG_LEVEL=None,
                            DEEPLAB_HOME=str(tmp_path / 'home'))
  tarball = helpers.voc_mobilenet_tarball(tmp_path)
  commands = [
      ['deeplab-build-custom-data', '--dataset_name=leaves',
       '--image_folder=my_data/images', '--label_folder=my_data/masks',
       '--num_classes=3', '--class_names=background,leaf,stem',
       '--val_fraction=0.25', '--output_dir=my_data/tfrecord'],
      ['deeplab-train', '--flagfile=finetune_small',
       '--dataset=my_data/tfrecord/dataset.json', '--train_logdir=runs/leaves',
       '--training_number_of_steps=3', '--train_batch_size=2'],
      ['deeplab-eval', '--checkpoint_dir=runs/leaves'],
      ['deeplab-vis', '--checkpoint_dir=runs/leaves', '--vis_logdir=vis',
       '--image_path=my_data/images'],
      ['deeplab-export', '--checkpoint_path=runs/leaves',
       '--export_path=export', '--tflite'],
      ['deeplab-export', '--checkpoint_path=runs/leaves',
       '--export_path=model.onnx'],
      ['deeplab-predict', '--checkpoint=runs/leaves',
       '--image=my_data/images', '--output_dir=predictions'],
      ['deeplab-zoo', '--name=mobilenetv2_coco_voc_trainaug',
       '--source=%s' % tarball, '--output_dir=zoo/mnv2'],
  ]
  for args in commands:
    _check(args, tmp_path, env)
  assert os.path.exists(tmp_path / 'export' / 'model.tflite')
