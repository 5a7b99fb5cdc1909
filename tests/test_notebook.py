"""notebooks/deeplab_demo.ipynb runs headless (nbclient) on a small
quickstart model and shows what it promises: pictures, class names, a time."""
import os

import nbformat
import pytest

import helpers
from deeplab import quickstart
from deeplab.data import synthetic

NOTEBOOK = os.path.join(helpers.ROOT, 'notebooks', 'deeplab_demo.ipynb')


@pytest.fixture(scope='module')
def small_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('demo'))
  quickstart.run_quickstart(workdir, num_train=8, num_val=2,
                            training_number_of_steps=2,
                            log=lambda line: None)
  return workdir


def _execute(env, cwd):
  from nbclient import NotebookClient  # pylint: disable=g-import-not-at-top
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  old = dict(os.environ)
  os.environ.update(env)  # The kernel inherits the environment.
  try:
    NotebookClient(notebook, timeout=300, kernel_name='python3',
                   resources={'metadata': {'path': cwd}}).execute()
  finally:
    os.environ.clear()
    os.environ.update(old)
  return notebook


def _outputs(notebook):
  texts, images = [], 0
  for cell in notebook.cells:
    for output in cell.get('outputs', []):
      if output.get('output_type') == 'stream':
        texts.append(output['text'])
      data = output.get('data', {})
      images += 'image/png' in data
      texts.append(data.get('text/plain', ''))
  return '\n'.join(texts), images


@pytest.mark.slow
def test_demo_notebook_segments_shows_and_times(small_run):
  notebook = _execute({'DEEPLAB_DEMO_MODEL': os.path.join(small_run, 'train'),
                       'DEEPLAB_DEMO_IMAGES': os.path.join(small_run, 'raw'),
                       'TF_CPP_MIN_LOG_LEVEL': '2'},
                      os.path.join(helpers.ROOT, 'notebooks'))
  text, images = _outputs(notebook)
  assert images == 3, text  # image | prediction | overlay + legend, each
  for name in synthetic.class_names(quickstart.NUM_OBJECT_CLASSES):
    assert name in text, (name, text)  # The run's class names, found.
  assert '3 images from' in text
  assert 'ms per image' in text


def test_demo_notebook_without_a_model_says_what_to_run(tmp_path):
  from nbclient.exceptions import CellExecutionError  # pylint: disable=g-import-not-at-top
  with pytest.raises(CellExecutionError, match='deeplab.quickstart'):
    _execute({'DEEPLAB_DEMO_MODEL': '', 'TF_CPP_MIN_LOG_LEVEL': '2'},
             str(tmp_path))
