"""Notebook 00, the data and the views: trains nothing."""

from .. import conclusions
from . import Notebook, register

register(Notebook("00_data_and_views", answer=conclusions.data_and_views))
