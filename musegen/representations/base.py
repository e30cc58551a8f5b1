"""The Representation interface: everything that differs between ways of writing music for a model.

A representation turns a :class:`~musegen.notes.Piece` into the sequence a model reads
(token ids, piano-roll frames, ...) and back, and owns every decision that depends on that
choice, so that no other layer needs to branch on it. The interface comes in five parts, one
module each, to be read one at a time (the codec first: the others use it):

- :mod:`~musegen.representations.codec` (:class:`Codec`): ``sequence(piece)`` (tokens as strings,
  or frames), ``fit_vocab``, ``ids`` (what is stored in a run's data.npz and fed to the model),
  ``decode`` (back to notes), ``transposed``, ``known``, ``time_cursor`` (beats covered by a
  sequence), ``element_notes``; the name, the label and the settings;
- :mod:`~musegen.representations.modelling` (:class:`Modelling`): ``archs`` and ``heads`` (the
  models that can read it), ``build_model`` (input adapter, backbone, output head and loss,
  compiled), ``output_width``, ``check_model`` / ``for_model`` (whether a given model reads it);
- :mod:`~musegen.representations.data` (:class:`Data`): ``training_data`` (the tf.data pipelines a
  run trains and validates on; by default ``windows`` (x, y, mask) -> ``batches``, ``val_batch``),
  ``store_training_data`` and ``transposes_on_the_fly``;
- :mod:`~musegen.representations.scoring` (:class:`Scoring`): ``score`` (held-out model scores per
  ``unit``), ``floor`` (the baseline a model must beat), ``uniform_nll``;
- :mod:`~musegen.representations.steering` (:class:`Steering`): ``start`` (the seed of an empty
  prompt), ``check_seed``, ``sample`` (one sampling step), ``constraint``, the infilling methods and
  the motif memory's ``motif_skip_ids``.

:class:`Representation` is the five together; a concrete representation subclasses it (or
:class:`~musegen.representations.tokens.TokenRepresentation`) and is registered once in
:mod:`musegen.representations.registry`. Instances are cheap: they hold the representation's
settings and, once known, the vocabulary. Make one with
:func:`musegen.representations.registry.for_config` (from data settings, before the vocabulary
exists) or :func:`~musegen.representations.registry.for_vocab` (from a run).
"""

from __future__ import annotations

from musegen.representations.codec import Codec, Tokenizer
from musegen.representations.data import Data
from musegen.representations.modelling import Modelling
from musegen.representations.scoring import Scoring
from musegen.representations.steering import Steering
from musegen.streams.training_data import TrainingData

__all__ = ["Codec", "Data", "Modelling", "Representation", "Scoring", "Steering", "Tokenizer", "TrainingData"]

PARTS = (Codec, Modelling, Data, Scoring, Steering)  # the interface, part by part (the codec first)


class Representation(Codec, Modelling, Data, Scoring, Steering):
    """One representation with its settings (and its vocabulary once fitted): the five parts together."""
