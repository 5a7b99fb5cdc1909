"""Installs the `deeplab` package (DeepLabv3+ for TensorFlow 2 / Keras 3)."""
import setuptools

_ONNX = ['tf2onnx>=1.17', 'onnx>=1.16', 'onnxruntime>=1.18']
# Runs TFLite models (export_model.py --tflite checks them): LiteRT, the
# successor of tf.lite.Interpreter.
_TFLITE = ['ai-edge-litert>=1.2']
# export_model.py --export_path=model.xml, and OpenVINO's runtime.
_OPENVINO = ['openvino>=2024.6']
# The documentation site: mkdocs build --strict (mkdocs.yml).
_DOCS = ['mkdocs>=1.6', 'mkdocs-material>=9.5', 'mkdocstrings[python]>=0.26']
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
        # export_model.py --tflite / --tflite_quantize=int8.
        'tflite': _TFLITE,
        # export_model.py --export_path=model.xml (OpenVINO's format).
        'openvino': _OPENVINO,
        'docs': _DOCS,
        # CI proves every export format and runs the demo notebook;
        # pytest-xdist runs the suite's files on every core (pytest.ini).
        'test': ['pytest', 'pytest-xdist>=3.5'] + _ONNX + _TFLITE +
                _OPENVINO + _DOCS + _NOTEBOOK,
    },
    entry_points={
        'console_scripts': [
            # One module of deeplab/cli per command.
            'deeplab-train=deeplab.cli.train:main',
            'deeplab-eval=deeplab.cli.evaluate:main',
            'deeplab-vis=deeplab.cli.vis:main',
            'deeplab-export=deeplab.cli.export_model:main',
            'deeplab-predict=deeplab.cli.predict:main',
            'deeplab-model-stats=deeplab.cli.model_stats:main',
            'deeplab-convert-checkpoint=deeplab.cli.convert_checkpoint:main',
            'deeplab-quickstart=deeplab.cli.quickstart:main',
            'deeplab-zoo=deeplab.cli.zoo:main',
            'deeplab-check-data=deeplab.cli.check_data:main',
            'deeplab-build-voc2012-data=deeplab.cli.build_voc2012_data:main',
            'deeplab-build-cityscapes-data='
            'deeplab.cli.build_cityscapes_data:main',
            'deeplab-build-ade20k-data=deeplab.cli.build_ade20k_data:main',
            'deeplab-build-custom-data=deeplab.cli.build_custom_data:main',
            'deeplab-remove-gt-colormap=deeplab.cli.remove_gt_colormap:main',
        ],
    },
)
