"""What the token representations (timed, classic) share: ids with ``<bos>``, embeddings, softmax.

A piece becomes a list of token strings (the subclass's tokenizer), then int32 ids that start
with ``<bos>`` so that a model learns (and is scored on) every real token of a piece. Models
read ids through an Embedding and predict the next token with a softmax; the tutorial's
classic models read ``id / n_vocab`` windows instead and predict one token per window
(:meth:`ModelConfig.is_classic`). Held-out scores are per token beside an n-gram baseline.

The parts, one module each: :mod:`.representation` (the codec, the model and the scores),
:mod:`.data` (training windows, fill-in-the-middle examples, the token store), :mod:`.steering`
(sampling, infilling, constraints) and :mod:`.constraint` (whole-event rules).
"""

from musegen.representations.codec import check_ids
from musegen.representations.tokens.constraint import EventConstraint
from musegen.representations.tokens.representation import TokenRepresentation

check_token_ids = check_ids  # the name this check had before it joined the codec part

__all__ = ["EventConstraint", "TokenRepresentation", "check_token_ids"]
