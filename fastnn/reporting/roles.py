"""What the backends of a run declared they are, as the reports read it.

A report never asks for a backend by name: it asks which backends are baselines (for
its speedup columns), which one is the vectorised baseline (for the speedup plot),
which are time-limited or compile. The answers come from the backends' declared
capabilities (:class:`fastnn.backends.base.Backend`), recorded in ``results.json`` when
the run was made so that a report rendered elsewhere (a machine without Numba, a peer's
run) reads the same roles; older files fall back to the registry here.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastnn import backends

CAPABILITIES = ("is_reference", "is_baseline", "is_time_limited", "compiles")


@dataclass(frozen=True)
class BackendRoles:
    """The declared capabilities of the backends of one run.

    Attributes
    ----------
    order : tuple of str
        The backends slowest first, as the registry lists them.
    capabilities : dict of str -> dict of str -> bool
        Per backend, the values of :data:`CAPABILITIES` (a name not registered here,
        such as a peer's, has none of them).
    """

    order: tuple
    capabilities: dict

    @classmethod
    def of_registry(cls, names=None):
        """The roles of ``names`` (default: every available backend) from the registry."""
        names = list(backends.available_backends() if names is None else names)
        return cls(tuple(names), {name: _declared(name) for name in names})

    @classmethod
    def from_metadata(cls, metadata, present=()):
        """The roles a run recorded (``metadata["backend_roles"]``), else the registry's.

        Parameters
        ----------
        metadata : dict
        present : sequence of str
            The backends in the run's rows; any the record misses are added (last).
        """
        recorded = metadata.get("backend_roles")
        if isinstance(recorded, dict) and recorded:
            order = list(recorded)
            capabilities = {name: dict(values) for name, values in recorded.items()}
        else:
            order = [name for name in backends.available_backends() if name in present]
            capabilities = {name: _declared(name) for name in order}
        for name in present:
            if name not in capabilities:
                order.append(name)
                capabilities[name] = _declared(name)
        return cls(tuple(order), capabilities)

    def as_dict(self):
        """For ``results.json``: ``{name: {capability: bool}}``, slowest first."""
        return {name: dict(self.capabilities[name]) for name in self.order}

    def where(self, names=None, **wanted):
        """The backends (of ``names``, default all) whose capabilities match, in order."""
        chosen = self.order if names is None else [name for name in self.order if name in names]
        return [name for name in chosen
                if all(self.capabilities[name].get(key, False) == value
                       for key, value in wanted.items())]

    def baselines(self, names=None):
        """Backends the others' speedups are given against, slowest first."""
        return self.where(names, is_baseline=True)

    def vectorised_baseline(self, names=None):
        """The fastest baseline that is not time-limited (None if there is none)."""
        candidates = self.where(names, is_baseline=True, is_time_limited=False)
        return candidates[-1] if candidates else None

    def slower_than(self, first, second):
        """Whether ``first`` comes before ``second`` in the slowest-first order."""
        return self.order.index(first) < self.order.index(second)


def _declared(name):
    """The capabilities ``name`` declares here; none for a name not registered here."""
    try:
        backend = backends.get(name)
    except ValueError:
        return dict.fromkeys(CAPABILITIES, False)
    return {key: bool(getattr(backend, key)) for key in CAPABILITIES}
