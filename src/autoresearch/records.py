"""``Record``: a typed named tuple, declared as with ``typing.NamedTuple``, that starts fast.

Every command imports most of the package before it does anything, and an agent calls ``try``
hundreds of times a night. On Python 3.11, importing ``typing`` costs about 10 ms of a start that
should take well under 150 ms, and each ``NamedTuple`` class another 0.3 ms to check annotations
that nothing at run time reads. ``Record`` builds the very same class (a ``collections.namedtuple``
carrying the body's docstring, defaults, methods and properties) from the field names alone.
Type checkers are told it is ``typing.NamedTuple`` and check it as one.
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    # What a named tuple's own machinery provides; the class body may not redefine it.
    _RESERVED = frozenset(
        {"__new__", "__init__", "__slots__", "__getnewargs__", "_make", "_asdict"}
    )
    _RESERVED |= {"_fields", "_field_defaults", "_replace", "_source"}
    _NOT_COPIED = frozenset({"__module__", "__qualname__"})

    class _RecordType(type):
        def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, object]) -> type:
            if not bases:  # `Record` itself
                return super().__new__(mcs, name, bases, namespace)
            fields = list(namespace.get("__annotations__", {}))
            defaults = [namespace[field] for field in fields if field in namespace]
            if any(field not in namespace for field in fields[len(fields) - len(defaults) :]):
                raise TypeError(f"{name}: a field without a default follows one with a default")
            record = collections.namedtuple(
                name, fields, defaults=defaults, module=str(namespace["__module__"])
            )
            record.__qualname__ = str(namespace["__qualname__"])
            for key, value in namespace.items():
                if key in _RESERVED:
                    raise AttributeError(f"{name} cannot redefine {key}")
                if key not in _NOT_COPIED and key not in fields:
                    setattr(record, key, value)
            return record

    class Record(metaclass=_RecordType):
        """Base of the package's records: ``class Reading(Record): value: float``."""
