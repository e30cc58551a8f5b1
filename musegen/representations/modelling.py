"""The model part of the Representation interface: which models read a representation, and a fresh one.

``archs`` and ``heads`` are the architectures and output heads a representation's models may have
(:func:`musegen.representations.registry.check` refuses the rest), ``build_model`` builds and
compiles one (input adapter, backbone, output head and loss), ``output_width`` is how many scores it
gives per step. ``check_model`` and ``for_model`` let the decoding loop ask whether a model it is
handed reads this representation, so that generation never names one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from musegen.config import DataConfig, RunConfig
from musegen.errors import ConfigError

if TYPE_CHECKING:
    import keras

    from musegen.vocabulary import Vocabulary


class Modelling(ABC):
    """The models that read a representation: which, built how, predicting how many scores per step."""

    name: ClassVar[str]
    label: ClassVar[str]
    archs: ClassVar[tuple[str, ...]] = ("wavenet", "lstm", "transformer")  # the architectures that can read it
    heads: ClassVar[tuple[str, ...]] = ("independent",)  # ModelConfig.head values its models can have

    if TYPE_CHECKING:  # from the codec part

        @property
        def vocab(self) -> Vocabulary: ...

    @classmethod
    def learns(cls, cfg: DataConfig) -> str:
        """What a model of this representation with ``cfg`` learns, in words (for the Train page and the CLI)."""
        return cls.label.split(" — ", 1)[-1]

    def check_arch(self, arch: str) -> None:
        """ConfigError unless ``arch`` can read this representation."""
        if arch not in self.archs:
            raise ConfigError(
                f"{arch} cannot read {self.label.split(' — ')[0]}; choose {' or '.join(self.archs)} "
                f"for the {self.name} representation."
            )

    def check_head(self, head: str) -> None:
        """ConfigError unless this representation's models can have the output head ``head``."""
        if head not in self.heads:
            raise ConfigError(
                f"the {head} head does not apply to {self.label.split(' — ')[0]}; it draws the keys of piano-roll "
                f"frames. Choose the piano-roll representation, or the {self.heads[0]} head."
            )

    def output_width(self) -> int:
        """How many scores the model gives per step (the vocabulary, or the keys)."""
        return len(self.vocab)

    @abstractmethod
    def build_model(self, config: RunConfig) -> keras.Model:
        """A fresh model for ``config.model`` reading this representation, compiled with its loss."""

    def check_model(self, model: Any) -> None:
        """ConfigError unless ``model`` (a Keras model) predicts this representation's elements."""
        width = int(model.outputs[0].shape[-1])
        if width != self.output_width():
            raise ConfigError(
                f"this model predicts {width} values per step; the {self.name} representation needs "
                f"{self.output_width()}."
            )

    @classmethod
    def for_model(cls, model: Any) -> Modelling | None:
        """This representation, with default settings, for a bare model (no run folder, no vocabulary) that
        reads and predicts its elements by their shapes alone; None when that cannot be told (token ids
        mean nothing without their vocabulary). :func:`~musegen.representations.registry.for_model` asks
        every registered representation."""
        return None
