"""Published test NLLs of the piano-roll benchmark family, each with its source and what kind of number it is.

The sets are those of Boulanger-Lewandowski, Bengio and Vincent (ICML 2012): JSB Chorales,
MuseData, Piano-midi.de and Nottingham, scored as the mean over predicted frames of the frame's
negative log-likelihood in nats (lower is better). A row is ``exact`` when the model's likelihood
is tractable and the paper reports it, ``bound`` when the paper reports a variational upper bound
on the NLL (the true NLL is at most that: a bound below ours is not necessarily a better model,
and one above ours is certainly worse).

The figures are the ones the literature's tables carry; they were not re-derived here. Papers
that score another representation of the same music (Walder 2016 reduces the roll to a sequence
of note events and reports per-note figures; Johnson 2017's tied parallel networks use a
transposition-invariant note encoding of their own) are not rows: their numbers do not score the
same frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# the .mat stems of musegen/data and of the sets of the family (Nottingham is not shipped)
JSB, MUSEDATA, PIANO, NOTTINGHAM = "JSB_Chorales", "MuseData", "Piano_midi", "Nottingham"


@dataclass(frozen=True)
class Published:
    """One published test NLL: the model, the set, the number, where it comes from and whether it is exact."""

    model: str
    dataset: str
    nll: float
    source: str
    kind: str  # "exact" or "bound"
    parameters: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_BL2012 = "Boulanger-Lewandowski, Bengio and Vincent, ICML 2012, Table 1"
_BAI2018 = "Bai, Kolter and Koltun 2018 (TCN), Table 2"
_FRACCARO = "Fraccaro, Sønderby, Paquet and Winther, NeurIPS 2016 (SRNN), Table 2"
_BAYER = "Bayer and Osendorfer 2014 (STORN), as tabulated by Fraccaro et al. 2016"

ROWS: tuple[Published, ...] = (
    # RNN-NADE: an RNN whose state sets the biases of a NADE over the frame, the model the NADE head follows
    Published("RNN-NADE", JSB, 5.56, _BL2012, "exact"),
    Published("RNN-NADE", MUSEDATA, 5.60, _BL2012, "exact"),
    Published("RNN-NADE", PIANO, 7.05, _BL2012, "exact"),
    Published("RNN-NADE", NOTTINGHAM, 2.31, _BL2012, "exact"),
    # stochastic recurrent networks: the best frame figures on JSB, as upper bounds
    Published("SRNN (smooth + Res_q)", JSB, 4.74, _FRACCARO, "bound"),
    Published("SRNN (smooth + Res_q)", MUSEDATA, 6.28, _FRACCARO, "bound"),
    Published("SRNN (smooth + Res_q)", PIANO, 8.20, _FRACCARO, "bound"),
    Published("SRNN (smooth + Res_q)", NOTTINGHAM, 2.94, _FRACCARO, "bound"),
    Published("STORN", JSB, 6.91, _BAYER, "bound"),
    Published("STORN", MUSEDATA, 6.16, _BAYER, "bound"),
    Published("STORN", PIANO, 7.13, _BAYER, "bound"),
    Published("STORN", NOTTINGHAM, 2.85, _BAYER, "bound"),
    # independent keys given the state, about 300K parameters each
    Published("TCN", JSB, 8.10, _BAI2018, "exact", "~300K"),
    Published("GRU", JSB, 8.43, _BAI2018, "exact", "~300K"),
    Published("LSTM", JSB, 8.45, _BAI2018, "exact", "~300K"),
    Published("RNN", JSB, 8.91, _BAI2018, "exact", "~300K"),
    Published("TCN", NOTTINGHAM, 3.07, _BAI2018, "exact", "~300K"),
)


def published(dataset: str) -> list[Published]:
    """The published rows of the set named ``dataset`` (a .mat stem), best first; [] for a set of no paper."""
    return sorted((r for r in ROWS if r.dataset.lower() == dataset.lower()), key=lambda r: r.nll)


def reference(dataset: str) -> float | None:
    """RNN-NADE's exact test NLL on ``dataset``: the figure the issue's goal is set against (None if unknown)."""
    return next((r.nll for r in published(dataset) if r.model == "RNN-NADE"), None)
