"""A run folder is a portable artifact (deeplab/rundir.py): its dataset's
description travels with it, nothing depends on the working directory."""
import json
import os
import re
import shutil

import numpy as np
from PIL import Image
import pytest

import helpers
from deeplab import configs
from deeplab import rundir
from deeplab.data import datasets
import test_own_data

FIELD = datasets.DatasetDescriptor(
    name='field', splits_to_sizes={'train': 4, 'val': 2}, num_classes=3,
    ignore_label=255, class_names=['soil', 'leaf', 'stem'],
    colormap=[[10, 20, 30], [0, 200, 0], [150, 75, 0]],
    max_image_size=[90, 120])


def _run_folder(root, dataset, dataset_dir):
  folder = os.path.join(str(root), 'run')
  os.makedirs(folder)
  with open(os.path.join(folder, rundir.TRAIN_CONFIG_FILE), 'w') as f:
    json.dump({'dataset': dataset, 'dataset_dir': dataset_dir}, f)
  return folder


def test_the_copy_of_the_description_wins_wherever_the_run_is(tmp_path):
  folder = _run_folder(tmp_path, '/gone/field/dataset.json', '/gone/field')
  assert rundir.description_of(folder) is None  # Nothing to read yet.
  assert rundir.classes_of(folder) == (None, 'pascal')
  rundir.write_dataset(folder, FIELD)
  assert rundir.description_of(folder) == FIELD
  assert rundir.classes_of(folder) == (FIELD.class_names, FIELD.colormap)
  dataset, dataset_dir = rundir.dataset_of(folder + '/model.ckpt-20')
  assert dataset == os.path.join(folder, rundir.DATASET_FILE)
  assert dataset_dir == '/gone/field'  # Evaluation reads records there.
  settings = rundir.saved_settings(folder)
  assert settings['eval_crop_size'] == (97, 129)  # From the largest image.
  # Moved: the same answers.
  moved = str(tmp_path / 'elsewhere')
  os.rename(folder, moved)
  assert rundir.description_of(moved) == FIELD


def test_an_older_run_finds_its_description_beside_its_records(tmp_path,
                                                              monkeypatch):
  records = tmp_path / 'field_tfrecord'
  records.mkdir()
  rundir.write_dataset(str(records), FIELD)  # The converter's dataset.json.
  # Saved relative to the working directory of its training.
  folder = _run_folder(tmp_path, 'field_tfrecord/dataset.json', str(records))
  elsewhere = tmp_path / 'elsewhere'
  elsewhere.mkdir()
  monkeypatch.chdir(elsewhere)
  assert rundir.description_of(folder) == FIELD


def test_builtin_and_tfds_datasets_are_named_not_copied(tmp_path):
  folder = _run_folder(tmp_path, 'pascal_voc_seg', '/records/voc')
  assert rundir.dataset_of(folder) == ('pascal_voc_seg', '/records/voc')
  assert rundir.classes_of(folder)[0][1] == 'aeroplane'


def test_train_config_saves_absolute_paths(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  (tmp_path / 'data').mkdir()
  rundir.write_dataset(str(tmp_path / 'data'), FIELD)
  config = configs.TrainConfig(train_logdir='runs/x',
                               dataset='data/dataset.json')
  config.validate()
  assert config.dataset == str(tmp_path / 'data' / 'dataset.json')
  assert config.dataset_dir == str(tmp_path / 'data')


def _colour_masks(folder):
  """The leaves' index masks as RGB colour masks of FIELD's colours, and
  the colour table that maps them back."""
  table = [{'name': n, 'color': c}
           for n, c in zip(FIELD.class_names, FIELD.colormap)]
  path = os.path.join(folder, 'colors.json')
  with open(path, 'w') as f:
    json.dump(table, f)
  masks = os.path.join(folder, 'masks')
  for name in os.listdir(masks):
    ids = np.asarray(Image.open(os.path.join(masks, name)))
    Image.fromarray(np.asarray(FIELD.colormap, np.uint8)[ids]).save(
        os.path.join(masks, name))
  return path


@pytest.mark.slow
def test_a_moved_run_works_from_anywhere_without_its_records(tmp_path):
  """Trained with relative paths from one folder, moved (`mv`), used from
  another folder: predict, vis of images, export and from_preset need no
  dataset and show the run's names and colours; eval reads the records
  where they stayed, and names them once they are gone."""
  project = tmp_path / 'project'
  test_own_data.make_leaves(str(project / 'my_data'))
  _colour_masks(str(project / 'my_data'))
  env = helpers.environment(TF_CPP_MIN_LOG_LEVEL=2)

  def run(args, cwd):
    out = helpers.run(args, cwd=cwd, env=env, timeout=900)
    assert out.returncode == 0, (args, out.stderr[-3000:])
    assert 'Traceback' not in out.stderr, args
    return out

  run(['deeplab-build-custom-data', '--dataset_name=field',
       '--image_folder=my_data/images', '--label_folder=my_data/masks',
       '--label_type=rgb', '--color_table=my_data/colors.json',
       '--num_classes=3', '--val_fraction=0.2',
       '--output_dir=my_data/tfrecord'], project)
  run(['deeplab-train', '--flagfile=finetune_small',
       '--dataset=my_data/tfrecord/dataset.json', '--train_logdir=runs/field',
       '--training_number_of_steps=30', '--save_interval_steps=30'], project)
  (tmp_path / 'models').mkdir()
  moved = tmp_path / 'models' / 'field'
  shutil.move(str(project / 'runs' / 'field'), str(moved))
  other = tmp_path / 'other'
  other.mkdir()

  # Evaluation, the records where they were: the run's classes by name.
  evaluated = run(['deeplab-eval', '--checkpoint_dir=../models/field',
                   '--eval_logdir=eval'], other)
  assert 'per-class IoU: soil' in evaluated.stdout
  # The records gone: evaluation names what is missing; the rest works.
  shutil.rmtree(str(project / 'my_data' / 'tfrecord'))
  gone = helpers.run(['deeplab-eval', '--checkpoint_dir=../models/field',
                      '--eval_logdir=eval2'], cwd=other, env=env)
  assert gone.returncode == 1 and 'Traceback' not in gone.stderr
  assert str(project / 'my_data' / 'tfrecord') in gone.stderr, gone.stderr

  images = project / 'my_data' / 'images'
  predicted = run(['deeplab-predict', '--checkpoint=../models/field',
                   '--image=%s' % (images / 'leaf_00.jpg'),
                   '--output_png=leaf.png', '--output_label_png=ids.png'],
                  other)
  assert 'classes soil (' in predicted.stdout, predicted.stdout
  assert 'classes are shown by id' not in predicted.stdout
  ids = np.asarray(Image.open(other / 'ids.png'))
  colours = np.asarray(Image.open(other / 'leaf.png'))
  for class_id in np.unique(ids):
    assert (colours[ids == class_id] == FIELD.colormap[class_id]).all()

  run(['deeplab-vis', '--checkpoint_dir=../models/field',
       '--image_path=%s' % images, '--vis_logdir=vis'], other)
  overlays = os.listdir(other / 'vis' / 'segmentation_results')
  assert 'leaf_00_overlay.png' in overlays

  exported = run(['deeplab-export', '--checkpoint_path=../models/field',
                  '--export_path=export'], other)
  assert 'dataset: field, 3 classes (soil, leaf, stem)' in exported.stdout
  with open(other / 'export' / rundir.DATASET_FILE) as f:
    assert json.load(f)['class_names'] == FIELD.class_names

  preset = run(['-c', 'import deeplab; m = deeplab.from_preset('
                '"../models/field"); print(m.class_names, m.colormap)'], other)
  assert preset.stdout.strip() == '%s %s' % (FIELD.class_names,
                                             FIELD.colormap)

  # An image 10x the training images' side, no tile or crop flag: whole
  # (it fits the memory budget), as an explicit whole-image run; and in
  # tiles under a small budget, agreeing with it.
  big = other / 'big.png'
  Image.open(images / 'leaf_03.jpg').resize((1200, 900), Image.BILINEAR).save(
      big)
  labels = {}
  for name, flags in (('auto', []), ('whole', ['--memory_budget_mb=0']),
                      ('tiles', ['--memory_budget_mb=64'])):
    out = run(['deeplab-predict', '--checkpoint=../models/field',
               '--image=big.png', '--output_label_png=%s.png' % name] + flags,
              other)
    labels[name] = np.asarray(Image.open(other / ('%s.png' % name)))
    said = [l for l in out.stdout.splitlines() if l.startswith('segmented')]
    assert len(said) == 1, out.stdout
    labels[name + ' said'] = said[0]
  assert labels['auto said'].startswith('segmented whole (about ')
  assert labels['whole said'] == 'segmented whole'
  assert re.match(r'segmented in \d+ tiles of 513x513: whole, it would need '
                  r'about \d+ MB of memory, over the budget of 64 MB',
                  labels['tiles said']), labels['tiles said']
  assert labels['auto'].shape == (900, 1200)
  agree = {k: (labels[k] == labels['whole']).mean() for k in ('auto', 'tiles')}
  assert min(agree.values()) >= 0.995, agree


@pytest.mark.parametrize('file_name,key,nearest', [
    (rundir.OPTIONS_FILE, 'outputstride', 'output_stride'),
    (rundir.TRAIN_CONFIG_FILE, 'train_crop_sise', 'train_crop_size'),
    (rundir.DATASET_FILE, 'classnames', 'class_names'),
    (rundir.ZOO_FILE, 'colourmap', 'colormap'),
])
def test_a_misspelt_key_is_named_with_the_nearest(tmp_path, file_name, key,
                                                  nearest):
  folder = str(tmp_path)
  good = {rundir.OPTIONS_FILE: {'model_variant': 'mobilenet_v2'},
          rundir.TRAIN_CONFIG_FILE: configs.TrainConfig(
              train_logdir=folder).to_dict(),
          rundir.DATASET_FILE: FIELD.to_dict(),
          rundir.ZOO_FILE: {'name': 'x'}}[file_name]
  read = {rundir.OPTIONS_FILE: rundir.load_options,
          rundir.TRAIN_CONFIG_FILE: rundir.read_train_config,
          rundir.DATASET_FILE: datasets.load_description,
          rundir.ZOO_FILE: rundir.read_zoo_file}[file_name]
  with open(os.path.join(folder, file_name), 'w') as f:
    json.dump(good, f)
  assert read(folder)  # As written, it reads.
  with open(os.path.join(folder, file_name), 'w') as f:
    json.dump(dict(good, **{key: 8}), f)
  with pytest.raises(ValueError, match='%s: unknown .*"%s" \\(did you mean '
                     '"%s"\\?\\)' % (file_name, key, nearest)):
    read(folder)


def test_a_misspelt_colour_table_key_is_named(tmp_path):
  from deeplab.datasets import build_custom_data  # pylint: disable=g-import-not-at-top
  path = tmp_path / 'colors.json'
  path.write_text(json.dumps([{'name': 'soil', 'colour': [1, 2, 3]}]))
  with pytest.raises(ValueError, match='unknown key "colour" \\(did you mean '
                     '"color"\\?\\)'):
    build_custom_data.load_color_table(str(path), 255)
