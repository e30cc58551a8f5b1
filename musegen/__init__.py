"""musegen: train neural networks on MIDI music and play with what they compose.

The library never imports streamlit, and imports TensorFlow lazily, only in the
modules that build, train or run a model.
"""

import os

# Before any TensorFlow import anywhere in the package: Keras on TensorFlow, no INFO/WARNING chatter.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
