"""Show what a benchmark on this machine would run on: versions, CPU, threads, backends,
and which tuning is in force (``fastnn tune``'s file, or the shipped table)."""

from __future__ import annotations

from fastnn import backends
from fastnn.backends import tuning
from fastnn.reporting.machine import machine_info

HELP = "versions, CPU, thread pools, the backends available and the tuning in force"


def add_arguments(parser):
    """``fastnn info`` has no options."""


def run_from_args(args):
    """``fastnn info`` has no options: run."""
    return run()


def run():
    """Print the machine information; returns 0."""
    print(info_text(machine_info()))
    return 0


def info_text(machine, tuning_status=None):
    """The machine record (as a dict) as aligned ``name: value`` lines.

    Parameters
    ----------
    machine : dict
        :func:`fastnn.reporting.machine.machine_info`.
    tuning_status : str or None
        The ``tuning`` line; default :func:`fastnn.backends.tuning.status`.
    """
    lines = [
        ("fastnn", machine["fastnn"]),
        ("python", f"{machine['python']} ({machine['python_implementation']})"),
        ("numpy", machine["numpy"]),
        ("numba", machine["numba"] or "not installed"),
        ("cpu", machine["cpu_model"]),
        ("cores", f"{machine['usable_cores']} usable of {machine['logical_cores']} logical"),
        ("system", f"{machine['system']} ({machine['machine']})"),
    ]
    for library in machine["blas"] or [{}]:
        lines.append(("blas", _blas_line(library)))
    lines.append(("numba threads", "n/a" if machine["numba_threads_max"] is None
                  else f"{machine['numba_threads_max']} (NUMBA_NUM_THREADS)"))
    lines.append(("backends", ", ".join(machine["backends"])))
    for name, reason in backends.unavailable_backends().items():
        lines.append(("unavailable", f"{name}: {reason}"))
    lines.append(("tuning", tuning_status or tuning.status()))
    lines.extend(("compiled", text) for text in compiled_lines())
    first_use = _first_use_text(tuning.in_force())
    if first_use:
        lines.append(("first use", first_use))
    width = max(len(name) for name, _ in lines)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in lines)


def compiled_lines():
    """The kernel configurations in the on-disk cache for this fastnn, Numba and CPU
    (``fastnn warmup`` and ``backend="auto"``'s background compiles write them), and
    whether ``backend="auto"`` tiers."""
    from fastnn.backends import tiered

    lines = [f"{record.get('target', '?')} "
             + ", ".join(f"{key}={value}" for key, value in sorted(
                 record["configuration"].items()))
             + ("" if record.get("complete") else " (plain calls only so far)")
             + f" ({record.get('seconds', '?')} s to compile, {record.get('created', '?')})"
             for record in tiered.compiled_configurations()]
    if not lines:
        lines = ["none yet (fastnn warmup compiles them ahead of time)"]
    state = "on" if tiered.enabled() else "off (FASTNN_TIERED=0 or FASTNN_NUMBA_CACHE=0)"
    lines.append(f"cache {tiered.cache_root()}; backend='auto' tiering {state}")
    return lines


def _first_use_text(tuned):
    """The warm first call ``fastnn tune`` measured, or ``""``."""
    seconds = tuned.extra.get("warm_first_forward_s") if tuned is not None else None
    if not isinstance(seconds, (int, float)):
        return ""
    return (f"import + first forward {seconds:.2f} s with the kernels cached "
            f"(fastnn tune, {tuned.created})")


def _blas_line(library):
    if not library:
        return "none found"
    return (f"{library.get('internal_api')} {library.get('version')}, "
            f"{library.get('num_threads')} threads, {library.get('threading_layer')} threading"
            + (f", {library['architecture']}" if library.get("architecture") else ""))
