"""Private: the generated constructor behind `Record.maker` (not part of the contract).

Generated like dataclasses' `__init__`: a dict display with constant keys is built several
times faster than `dict(zip(names, values))`, and a large CSV import builds millions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def record_maker(cls: type, names: tuple[str, ...]) -> Callable[..., Any]:
    fields = cls.model_fields
    unknown = [n for n in names if n not in fields]
    missing = [n for n, f in fields.items() if f.is_required() and n not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise TypeError(f"{cls.__name__}.trusted(): unknown {sorted(unknown)}, missing "
                        f"{sorted(missing)}" + (", a field given twice"
                                                if len(set(names)) != len(names) else ""))
    # The names are the model's own
    # field names (identifiers without a leading underscore, so they cannot shadow the
    # helpers, which have one), checked above; defaults are passed in, never written in.
    scope: dict[str, Any] = {"_cls": cls, "_new": object.__new__, "_set": _set,
                             "_given": set(names)}
    entries = [f"{n!r}: {n}" for n in names]
    for i, (n, f) in enumerate((n, f) for n, f in fields.items() if n not in names):
        if f.default_factory is None:
            scope[f"_default_{i}"] = f.default
            entries.append(f"{n!r}: _default_{i}")
        else:  # a mutable default (a dict, a list) is new for every record
            scope[f"_factory_{i}"] = f.default_factory
            entries.append(f"{n!r}: _factory_{i}()")
    source = (f"def make({', '.join(names)}):\n"
              f"    _record = _new(_cls)\n"
              f"    _set(_record, '__dict__', {{{', '.join(entries)}}})\n"
              f"    _set(_record, '__pydantic_fields_set__', _given.copy())\n"
              f"    _set(_record, '__pydantic_extra__', None)\n"
              f"    _set(_record, '__pydantic_private__', None)\n"
              f"    return _record\n")
    exec(source, scope)  # our own field names only, checked above
    return scope["make"]


_set = object.__setattr__
