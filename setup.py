"""Installs the `deeplab` package (DeepLabv3+ for TensorFlow 2 / Keras 3)."""
import setuptools

setuptools.setup(
    name='deeplab-tf2',
    version='0.1.0',
    description=('DeepLabv3+ semantic segmentation for TensorFlow 2 / Keras 3, '
                 'faithful to the original TF1 implementation and checkpoints.'),
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=setuptools.find_packages(include=['deeplab', 'deeplab.*',
                                               'datasets', 'datasets.*']),
    # The thin absl scripts, so `deeplab-train` etc. work after install.
    py_modules=['train', 'eval', 'vis', 'export_model'],
    python_requires='>=3.10',
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
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'deeplab-model-stats=deeplab.model_stats:run',
            'deeplab-train=train:run',
            'deeplab-eval=eval:run',
            'deeplab-vis=vis:run',
            'deeplab-export=export_model:run',
            'deeplab-predict=deeplab.predict:run',
            'deeplab-quickstart=deeplab.quickstart:run',
        ],
    },
)
