"""Settings as dataclasses with a JSON round trip. Defaults live here, not in widgets.

One module per kind of setting, every name re-exported here (``from musegen.config import DataConfig``):
:mod:`.run` (a run's DataConfig, ModelConfig, TrainConfig and RunConfig, saved as config.json),
:mod:`.sampling` (SamplingConfig and ConstraintConfig: how music is drawn and the rules it keeps),
:mod:`.limits` (Limits: what protects a machine from huge or hostile input) and :mod:`.checks` (the JSON
builder and the checks of one field that they share).
"""

from musegen.config.checks import from_dict
from musegen.config.limits import (
    COUNT_CEILING,
    DECODE_SECONDS_CEILING,
    SIZE_CEILING_MB,
    Limits,
    limit_ceiling,
)
from musegen.config.run import (
    ARCHITECTURES,
    CLASSIC_ARCHS,
    HEADS,
    INSTRUMENT_FILTERS,
    PRECISIONS,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    model_label,
    with_overrides,
)
from musegen.config.sampling import (
    CHORD_MODES,
    MAX_CHORDS_TEXT,
    ConstraintConfig,
    SamplingConfig,
    default_top_k,
    sampling_choice,
)
from musegen.notes import DEFAULT_TEMPO, TEMPO_RANGE, clamp_tempo  # the tempo range lives in notes

__all__ = [
    "ARCHITECTURES",
    "CHORD_MODES",
    "CLASSIC_ARCHS",
    "COUNT_CEILING",
    "DECODE_SECONDS_CEILING",
    "DEFAULT_TEMPO",
    "HEADS",
    "INSTRUMENT_FILTERS",
    "MAX_CHORDS_TEXT",
    "PRECISIONS",
    "SIZE_CEILING_MB",
    "TEMPO_RANGE",
    "ConstraintConfig",
    "DataConfig",
    "Limits",
    "ModelConfig",
    "RunConfig",
    "SamplingConfig",
    "TrainConfig",
    "clamp_tempo",
    "default_top_k",
    "from_dict",
    "limit_ceiling",
    "model_label",
    "sampling_choice",
    "with_overrides",
]
