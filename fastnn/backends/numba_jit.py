"""Deprecated name of a backend module (see :mod:`fastnn.backends._renamed`)."""

from fastnn.backends._renamed import alias

alias(__name__)
