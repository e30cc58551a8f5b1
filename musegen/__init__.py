"""musegen: train neural networks on MIDI music and play with what they compose.

The library never imports streamlit, and imports TensorFlow lazily, only in the
modules that build, train or run a model.
"""

__version__ = "0.1.0"
