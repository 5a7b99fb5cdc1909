"""Installs the `deeplab` package (DeepLabv3+ for TensorFlow 2 / Keras 3)."""
import setuptools

_ONNX = ['tf2onnx>=1.17', 'onnx>=1.16', 'onnxruntime>=1.18']
# Runs notebooks/deeplab_demo.ipynb headless (tests/test_notebook.py).
_NOTEBOOK = ['nbclient>=0.10', 'nbformat>=5.10', 'ipykernel>=6.29']

setuptools.setup(
    name='deeplab-tf2',
    version='0.1.0',
    description=('DeepLabv3+ semantic segmentation for TensorFlow 2 / Keras 3, '
                 'faithful to the original TF1 implementation and checkpoints.'),
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    # Only the `deeplab` package is installed: the repository's top-level
    # scripts (train.py, datasets/...) are thin wrappers around it, and a
    # top-level `datasets` or `train` module would shadow other packages.
    packages=setuptools.find_packages(include=['deeplab', 'deeplab.*']),
    # The training recipes (absl flag files, `--flagfile=<name>`).
    package_data={'deeplab': ['recipes/*.flags', 'core/*.json']},
    python_requires='>=3.10,<3.14',
    install_requires=[
        'tensorflow>=2.16,<2.22',
        'tensorflow-datasets',
        'numpy',
        'absl-py',
        'pillow',
        # tf.summary writes TensorBoard events only when tensorboard is
        # installed; TF 2.21 no longer pulls it in.
        'tensorboard',
    ],
    extras_require={
        # export_model.py --export_path=model.onnx, and ONNX Runtime.
        'onnx': _ONNX,
        # CI proves every export format and runs the demo notebook;
        # pytest-xdist runs the suite's files on every core (pytest.ini).
        'test': ['pytest', 'pytest-xdist>=3.5'] + _ONNX + _NOTEBOOK,
    },
    entry_points={
        'console_scripts': [
            'deeplab-train=deeplab.cli:train',
            'deeplab-eval=deeplab.cli:evaluate',
            'deeplab-vis=deeplab.cli:vis',
            'deeplab-export=deeplab.cli:export_model',
            'deeplab-predict=deeplab.cli:predict',
            'deeplab-model-stats=deeplab.model_stats:run',
            'deeplab-convert-checkpoint=deeplab.convert_checkpoint:run',
            'deeplab-quickstart=deeplab.quickstart:run',
            'deeplab-zoo=deeplab.zoo:run',
            'deeplab-check-data=deeplab.datasets.check_data:run',
            'deeplab-build-voc2012-data=deeplab.datasets.build_voc2012_data:run',
            'deeplab-build-cityscapes-data='
            'deeplab.datasets.build_cityscapes_data:run',
            'deeplab-build-ade20k-data=deeplab.datasets.build_ade20k_data:run',
            'deeplab-build-custom-data=deeplab.datasets.build_custom_data:run',
            'deeplab-remove-gt-colormap=deeplab.datasets.remove_gt_colormap:run',
        ],
    },
)
