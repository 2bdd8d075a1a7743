"""matplotlib figures as objects: a ``Figure`` per plot, never pyplot's global state.

Library code builds on :class:`matplotlib.figure.Figure` (matplotlib's guidance for
libraries); saving to PNG picks the Agg canvas by itself, so nothing here switches
matplotlib's backend, and a caller's interactive session is left alone. Plot functions
take an optional ``ax`` to draw into a caller's own figure.
"""

from __future__ import annotations

import io

import numpy as np


def new_figure(width, height, layout=None):
    """A detached :class:`matplotlib.figure.Figure` of ``width`` x ``height`` inches."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


def figure_axes(width, height, nrows=1, ncols=1, **subplot_options):
    """A new figure and its grid of axes, always 2-D (``axes[row][col]``).

    Returns
    -------
    figure : matplotlib.figure.Figure
    axes : ndarray of Axes, shape (nrows, ncols)
    """
    figure = new_figure(width, height)
    axes = figure.subplots(nrows, ncols, squeeze=False, **subplot_options)
    return figure, axes


def axes_or_new(ax, width, height):
    """``ax`` and its figure, or a new single-panel figure constrained-laid-out."""
    if ax is not None:
        return ax.figure, ax
    figure = new_figure(width, height, layout="constrained")
    return figure, figure.add_subplot(1, 1, 1)


def png_bytes(figure, dpi=100):
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def colour(name, order):
    """The colour of ``name``: its place in ``order`` on matplotlib's cycle (else black)."""
    return f"C{order.index(name) % 10}" if name in order else "black"


def shared_legend(figure, axes, ncol_max=6):
    """One legend below the panels, each label once."""
    handles = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        figure.legend(list(handles.values()), list(handles), loc="lower center",
                      ncol=min(len(handles), ncol_max), fontsize=8, frameon=False)
