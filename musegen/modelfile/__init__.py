"""The checks a ``.keras`` file must pass before Keras (and so TensorFlow) is imported to open it.

A missing, truncated or foreign file is refused in milliseconds with :class:`ModelLoadError`,
instead of after the seconds a TensorFlow import takes; :func:`musegen.models.load_model`
then opens what passed, with ``safe_mode=True``.

A ``.keras`` file is a zip of ``metadata.json``, ``config.json`` (the layers and their sizes,
from which Keras builds the model) and ``model.weights.h5``. Keras trusts the config: 100,000
dilations, a dilation of 2**24 (a crash in TensorFlow), a Dense of 10**6 units or a chain of
10,000 layers are built as asked, at the cost of minutes, gigabytes or the process. So before
Keras sees a file, :func:`check_model_file`

- reads the zip's directory only when it is small (:data:`MAX_MEMBERS` entries), allows only the
  stored and deflate methods (zipfile inflates bzip2 and LZMA in unbounded steps);
- reads ``config.json`` (and ``metadata.json``) in 64 KiB steps, counting the bytes really
  inflated, up to :data:`MAX_CONFIG_BYTES`;
- checks the JSON's nesting (:data:`MAX_JSON_DEPTH`, without recursion) before ``json.loads``;
- walks the layer configs without recursion: the model class, every layer's class (those musegen
  builds, :data:`KERAS_LAYERS` and :data:`MUSEGEN_LAYERS`), their sizes against the limits of
  :meth:`musegen.config.ModelConfig.validate`, every shape, and an estimate of the parameters
  (:data:`MAX_PARAMETERS`);
- refuses a weights member larger than those parameters can need, and weights whose HDF5 datasets
  declare more than that (h5py, not TensorFlow).

Every limit is a constant of :mod:`musegen.modelfile.limits` (and re-exported here); the archive checks
are in :mod:`~musegen.modelfile.archive`, the config walk and the parameter estimate in
:mod:`~musegen.modelfile.layers`. The JSON reader with a size and depth limit is :mod:`musegen.jsonio`
(its names are re-exported here for older imports).
"""

from __future__ import annotations

from musegen.jsonio import JsonError, json_depth, parse_json
from musegen.modelfile.archive import check_model_file
from musegen.modelfile.layers import check_model_config, estimate_parameters
from musegen.modelfile.limits import (
    CONFIG_MEMBERS,
    KERAS_LAYERS,
    MAX_CONFIG_BYTES,
    MAX_DILATION,
    MAX_DILATIONS,
    MAX_DIM,
    MAX_DIRECTORY_BYTES,
    MAX_FF_MULT,
    MAX_HEADS,
    MAX_INBOUND_NODES,
    MAX_JSON_DEPTH,
    MAX_JSON_NODES,
    MAX_KERNEL,
    MAX_LAYERS,
    MAX_MEMBERS,
    MAX_PARAMETERS,
    MAX_RECURRENT_LAYERS,
    MAX_SPAN,
    MAX_TRANSFORMER_LAYERS,
    MAX_VOCAB,
    MAX_WIDTH,
    MODEL_CLASSES,
    MUSEGEN_LAYERS,
    WEIGHT_BYTES_PER_PARAMETER,
    WEIGHTS_MEMBERS,
    WEIGHTS_OVERHEAD_BYTES,
)

__all__ = [
    "CONFIG_MEMBERS",
    "KERAS_LAYERS",
    "MAX_CONFIG_BYTES",
    "MAX_DILATION",
    "MAX_DILATIONS",
    "MAX_DIM",
    "MAX_DIRECTORY_BYTES",
    "MAX_FF_MULT",
    "MAX_HEADS",
    "MAX_INBOUND_NODES",
    "MAX_JSON_DEPTH",
    "MAX_JSON_NODES",
    "MAX_KERNEL",
    "MAX_LAYERS",
    "MAX_MEMBERS",
    "MAX_PARAMETERS",
    "MAX_RECURRENT_LAYERS",
    "MAX_SPAN",
    "MAX_TRANSFORMER_LAYERS",
    "MAX_VOCAB",
    "MAX_WIDTH",
    "MODEL_CLASSES",
    "MUSEGEN_LAYERS",
    "WEIGHTS_MEMBERS",
    "WEIGHTS_OVERHEAD_BYTES",
    "WEIGHT_BYTES_PER_PARAMETER",
    "JsonError",
    "check_model_config",
    "check_model_file",
    "estimate_parameters",
    "json_depth",
    "parse_json",
]
