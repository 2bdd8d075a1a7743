"""Declared schemas of the files fastnn reads, and the one checker that applies them.

Every file format the project reads is declared here, field by field: model files
(``MLP.save``, :mod:`fastnn.params`), the plan of a distributed sweep (``run.json``,
:mod:`fastnn.bench.distributed.resume`), tune files (:mod:`fastnn.backends.tuning`) and
pytest-benchmark JSON files (:mod:`fastnn.bench.report.pytest_json`). The readers check a
document with :func:`check` before they use any value of it; an error names the file
and the field (``run.json: field 'config.rounds' must be an integer; got '7'``).

What a schema cannot say (a spec's consistency with its parameters, quartiles in
order) the reader checks after it, with the same :class:`SchemaError`.

>>> from fastnn.schemas import Field, Schema, check
>>> check({"n": 3}, Schema("example", (Field("n", "int", minimum=1),)), "x.json")
{'n': 3}
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class SchemaError(ValueError):
    """A document does not follow its declared schema; the message names the field.

    Attributes
    ----------
    field : str
        The field's dotted path, e.g. ``"config.rounds"`` or ``"benchmarks[3].stats.min"``.
    problem : str
        What is wrong with it (the message without the file and the field).
    """

    def __init__(self, where, field, problem):
        self.field = field
        self.problem = problem
        super().__init__(f"{where}: field '{field}' {problem}")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


# Kind -> (test, how the error message describes it).
KINDS = {
    "str": (lambda value: isinstance(value, str), "a string"),
    "int": (_is_int, "an integer"),
    "number": (_is_number, "a finite number"),
    "bool": (lambda value: isinstance(value, bool), "true or false"),
    "object": (lambda value: isinstance(value, dict), "an object"),
    "list": (lambda value: isinstance(value, list), "a list"),
    "str list": (lambda value: isinstance(value, list)
                 and all(isinstance(item, str) for item in value), "a list of strings"),
    "int list": (lambda value: isinstance(value, list) and all(_is_int(item) for item in value),
                 "a list of integers"),
    "number list": (lambda value: isinstance(value, list)
                    and all(_is_number(item) for item in value), "a list of finite numbers"),
    "array": (lambda value: getattr(value, "dtype", None) is not None
              and getattr(value, "ndim", 0) >= 1, "an array"),
    "any": (lambda value: True, "anything"),
}


@dataclass(frozen=True)
class Field:
    """One field of a document.

    Attributes
    ----------
    name : str
    kind : str
        A key of :data:`KINDS`.
    required : bool
    nullable : bool
        ``None`` (JSON ``null``) is accepted.
    minimum : float or None
        The least value of a number (or of every item of a number list).
    above : float or None
        A number (or every item of a number list) must be greater than this.
    choices : tuple or None
        The only values accepted.
    fields : Schema or None
        For an object: the schema of its fields.
    """

    name: str
    kind: str
    required: bool = True
    nullable: bool = False
    minimum: float | None = None
    above: float | None = None
    choices: tuple | None = None
    fields: Schema | None = None


@dataclass(frozen=True)
class Schema:
    """The fields of a document (or of an object inside one).

    Attributes
    ----------
    title : str
        What the document is, e.g. ``"fastnn model file"``.
    fields : tuple of Field
    closed : bool
        Fields not declared are refused (else ignored).
    """

    title: str
    fields: tuple
    closed: bool = False

    @property
    def names(self):
        return tuple(entry.name for entry in self.fields)


def check(document, schema, where, prefix=""):
    """Check ``document`` against ``schema``; returns it unchanged.

    Parameters
    ----------
    document : object
        A decoded JSON document, or a dict of values.
    schema : Schema
    where : str
        The file, for the message.
    prefix : str
        The path of ``document`` inside the file (for nested objects).

    Raises
    ------
    SchemaError
        At the first field that is missing, of the wrong kind, below its minimum, not
        among its choices, or (for a closed schema) not declared.
    """
    if not isinstance(document, dict):
        raise SchemaError(where, prefix or "(top level)",
                          f"must be an object ({schema.title}); got {_shown(document)}")
    for entry in schema.fields:
        name = f"{prefix}.{entry.name}" if prefix else entry.name
        if entry.name not in document:
            if entry.required:
                raise SchemaError(where, name, f"is missing ({schema.title})")
            continue
        _check_value(document[entry.name], entry, where, name)
    if schema.closed:
        unknown = sorted(str(key) for key in document if key not in schema.names)
        if unknown:
            name = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
            raise SchemaError(where, name, f"is not a field of a {schema.title} (its fields: "
                                           f"{', '.join(schema.names)})")
    return document


def _check_value(value, entry, where, name):
    if value is None and entry.nullable:
        return
    test, description = KINDS[entry.kind]
    if not test(value):
        raise SchemaError(where, name, f"must be {description}; got {_shown(value)}")
    if entry.minimum is not None:
        values = value if isinstance(value, list) else [value]
        low = [item for item in values if item < entry.minimum]
        if low:
            raise SchemaError(where, name, f"must be at least {entry.minimum:g}; got "
                                           f"{_shown(low[0])}")
    if entry.above is not None:
        values = value if isinstance(value, list) else [value]
        low = [item for item in values if not item > entry.above]
        if low:
            raise SchemaError(where, name, f"must be above {entry.above:g}; got "
                                           f"{_shown(low[0])}")
    if entry.choices is not None and value not in entry.choices:
        raise SchemaError(where, name, f"must be one of {', '.join(map(repr, entry.choices))}; "
                                       f"got {_shown(value)}")
    if entry.fields is not None:
        check(value, entry.fields, where, name)


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- the declared formats ----------------------------------------------------------------

MODEL_FILE_FORMAT = "fastnn-mlp"
MODEL_FILE_VERSIONS = (1,)

#: The network spec a model file stores (JSON in its ``spec`` member).
NETWORK_SPEC = Schema("network spec", (
    Field("layer_sizes", "int list", minimum=1),
    Field("activation", "str"),
    Field("output_activation", "str"),
    Field("loss", "str"),
    Field("dtype", "str"),
), closed=True)

#: A model file (``.npz`` from ``MLP.save``): its members, as Python values (0-d arrays
#: become ``str`` / ``int`` / ``float``; see :func:`fastnn.params.load_params`).
MODEL_FILE = Schema("fastnn model file", (
    Field("format", "str", choices=(MODEL_FILE_FORMAT,)),
    Field("version", "int", choices=MODEL_FILE_VERSIONS),
    Field("spec", "str"),
    # Its dtype and length are checked against the spec by the reader.
    Field("params", "array"),
), closed=True)

#: The members of a model file a reader checks before it reads ``params`` (whose size
#: the spec then bounds).
MODEL_FILE_METADATA = Schema(MODEL_FILE.title, tuple(entry for entry in MODEL_FILE.fields
                                                     if entry.name != "params"))

RUN_PLAN_FORMAT = "fastnn-bench-distributed-run"
RUN_PLAN_VERSIONS = (1,)

#: ``SweepConfig.as_dict()`` as ``run.json`` stores it (types only: the values are then
#: checked as the command line's options are, by ``SweepConfig.check``).
SWEEP_CONFIG = Schema("sweep configuration", (
    Field("layer_sizes", "str list"),
    Field("batch_sizes", "int list"),
    Field("backends", "str list"),
    Field("ops", "str list"),
    Field("dtypes", "str list"),
    Field("threads", "int list"),
    Field("levels", "str list"),
    Field("rounds", "int"),
    Field("min_time", "number"),
    Field("python_limit", "number"),
    Field("unstable_ratio", "number"),
    Field("peak_size", "int"),
    Field("seed", "int"),
    Field("peers", "str list"),
    Field("model", "str", nullable=True),
), closed=True)

#: ``run.json``: the plan of a distributed sweep.
RUN_PLAN = Schema("fastnn run plan", (
    Field("format", "str", choices=(RUN_PLAN_FORMAT,)),
    Field("version", "int", choices=RUN_PLAN_VERSIONS),
    Field("config", "object", fields=SWEEP_CONFIG),
    Field("hosts", "str list"),
    Field("scheduler", "str"),
    Field("command", "str", required=False),
    Field("refused", "object", required=False),
    Field("lost_workers", "object", required=False),
))

TUNE_SCHEMA = "fastnn-tune/1"

#: A tune file (``fastnn tune``); ``crossovers`` and ``table`` are checked in detail by
#: :mod:`fastnn.backends.tuning`.
TUNE_FILE = Schema("fastnn tune file", (
    Field("schema", "str", choices=(TUNE_SCHEMA,)),
    Field("created", "str"),
    Field("cpu_model", "str", nullable=True),
    Field("fastnn", "str", nullable=True),
    Field("numba", "str", nullable=True),
    Field("numpy", "str", required=False, nullable=True),
    Field("crossovers", "object", required=False),
    Field("table", "object", required=False),
))

#: pytest-benchmark's statistics of one benchmark (seconds, and counts).
BENCHMARK_STATS = Schema("pytest-benchmark stats", (
    Field("min", "number", minimum=0),
    Field("max", "number", minimum=0, required=False),
    # A median of zero is no measurement (and no rate can be computed from it).
    Field("median", "number", above=0),
    Field("q1", "number", minimum=0),
    Field("q3", "number", minimum=0),
    Field("iqr", "number", minimum=0),
    Field("mean", "number", minimum=0),
    Field("rounds", "int", minimum=1),
    Field("iterations", "int", minimum=1),
))

#: The case a fastnn benchmark records in its ``extra_info``.
BENCHMARK_CASE = Schema("fastnn benchmark case", (
    Field("backend", "str"),
    Field("layer_sizes", "str"),
    Field("batch_size", "int", minimum=1),
    Field("op", "str"),
    Field("dtype", "str", choices=("float32", "float64")),
    Field("flops", "int", required=False, nullable=True, minimum=0),
))

#: One benchmark of a fastnn case (one whose ``extra_info`` names the case).
PYTEST_BENCHMARK_ENTRY = Schema("pytest-benchmark benchmark", (
    Field("extra_info", "object", fields=BENCHMARK_CASE),
    Field("stats", "object", fields=BENCHMARK_STATS),
))

#: What fastnn reads of pytest-benchmark's ``machine_info`` (its ``fastnn`` entry, from
#: the benchmarks' conftest: the machine record and the matmul peak).
PYTEST_MACHINE_INFO = Schema("pytest-benchmark machine_info", (
    Field("fastnn", "object", required=False),
))

#: A pytest-benchmark JSON file (``pytest --benchmark-json``).
PYTEST_BENCHMARK = Schema("pytest-benchmark JSON file", (
    Field("machine_info", "object", fields=PYTEST_MACHINE_INFO),
    Field("benchmarks", "list"),
    Field("datetime", "str", required=False, nullable=True),
))
