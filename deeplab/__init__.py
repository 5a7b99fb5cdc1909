"""DeepLabv3+ for TensorFlow 2 / Keras 3.

A reimplementation of the original TF1 DeepLab (tensorflow/models,
research/deeplab) whose layer and weight names follow the original variable
scopes, so the original checkpoints map onto it by name.
"""
import os as _os

# Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
_os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

__version__ = '0.1.0'
