"""The limits a ``.keras`` file is checked against (one place), and the layer classes musegen builds."""

from __future__ import annotations

from musegen.jsonio import MAX_JSON_DEPTH  # the nesting of any JSON musegen reads, config.json's too

__all__ = ["MAX_JSON_DEPTH"]  # the rest are this module's own constants

KB, MB = 1024, 1024 * 1024

# ---------------------------------------------------------------- the limits (one place)

MAX_CONFIG_BYTES = 4 * MB  # config.json / metadata.json, inflated (musegen's are about 4 KB)
MAX_JSON_NODES = 200_000  # values in a model config (musegen's have a few hundred)
MAX_MEMBERS = 64  # entries of a .keras zip (musegen's have 3)
MAX_DIRECTORY_BYTES = 256 * KB  # the zip's central directory
MAX_LAYERS = 64  # layers of the model (musegen's have 4 to 13)
MAX_INBOUND_NODES = 8  # calls of one layer (musegen calls each once)
MAX_PARAMETERS = 50_000_000  # musegen's presets have about 0.2-5 M; 50 M is 200 MB of float32 weights
WEIGHT_BYTES_PER_PARAMETER = 16  # float32 weights + Adam's two slots (last.keras) + headroom
WEIGHTS_OVERHEAD_BYTES = 16 * MB  # HDF5 headers and the optimizer's small variables
MAX_DIM = 65_536  # any dimension of an input or build shape
# the limits of ModelConfig.validate (musegen/config.py), so that every model musegen can train loads
MAX_WIDTH = 4096  # embed_dim, channels, skip_channels, units, d_model; also Conv1D filters and LSTM units
MAX_VOCAB = 65_536  # Embedding input_dim and Dense units (an output head is as wide as the vocabulary)
MAX_KERNEL = 16  # kernel_size of a convolution, and strides / pool sizes
MAX_DILATION = 2 ** (16 - 1)  # dilation_cycle <= 16: dilations 1 .. 2**15
MAX_DILATIONS = 16 * 16  # dilation_cycle x stacks
MAX_RECURRENT_LAYERS = 8  # ModelConfig.layers
MAX_TRANSFORMER_LAYERS = 32  # ModelConfig.transformer_layers
MAX_HEADS = 64
MAX_FF_MULT = 16
MAX_SPAN = 8192  # ModelConfig.attention_span and DataConfig.window

MODEL_CLASSES = ("Functional",)  # keras.Model(inputs, outputs), as musegen.models builds every model
# The layers musegen.models builds at the top of a model (the layers inside the three stacks are
# made by the stacks themselves from their sizes, so they never appear in a config).
KERAS_LAYERS = (
    "InputLayer",
    "Embedding",  # the token adapter
    "Dense",  # the frame adapter, the output heads, the classic models' hidden layer
    "Conv1D",  # classic-wavenet
    "Dropout",  # classic-wavenet
    "MaxPooling1D",  # classic-wavenet
    "GlobalMaxPooling1D",  # classic-wavenet
    "LSTM",  # classic-lstm
)
# registered as "musegen>Name"; KeySlice and NADEHead make the NADE head of piano-roll models
MUSEGEN_LAYERS = ("WaveNetStack", "RecurrentStack", "TransformerStack", "KeySlice", "NADEHead")
CONFIG_MEMBERS = ("config.json", "metadata.json")
WEIGHTS_MEMBERS = ("model.weights.h5", "model.weights.npz")
_STEP = 64 * KB
_RETRAIN = "Only models trained by musegen can be loaded; retrain the model or pick another run."
