"""Notebook 09, the summary: trains nothing; summarises the iterations and the related-work claims."""

from .. import conclusions
from . import Notebook, register

register(Notebook("09_summary", answer=conclusions.summary, summary=True))
