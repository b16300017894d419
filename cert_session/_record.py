"""A run-time stand-in for ``typing.NamedTuple``.

The hook's rebuild path must stay cheap (issue #5: at most 3x a bare
interpreter start), and ``import typing`` alone costs about 9 ms there
because it pulls in re, enum, collections, functools and contextlib. Modules
on that path declare ``class X(Record)`` with annotated fields exactly like
a NamedTuple; type checkers see ``typing.NamedTuple`` (see the
``TYPE_CHECKING`` imports), the interpreter sees this small tuple subclass.
"""

from __future__ import annotations

__all__ = ["Record"]


class Record(tuple):  # type: ignore[type-arg]
    """Tuple subclass with named, annotated fields and optional defaults."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _field_defaults: dict[str, object] = {}

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        fields = tuple(cls.__dict__.get("__annotations__", {}))
        cls._fields = fields
        cls._field_defaults = {f: cls.__dict__[f] for f in fields if f in cls.__dict__}
        for index, name in enumerate(fields):
            setattr(cls, name, _field(index, name))

    def __new__(cls, *args: object, **kwargs: object) -> Record:
        if len(args) > len(cls._fields):
            raise TypeError("%s takes %d fields, got %d" % (cls.__name__, len(cls._fields), len(args)))
        values = list(args)
        for name in cls._fields[len(args) :]:
            if name in kwargs:
                values.append(kwargs.pop(name))
            elif name in cls._field_defaults:
                values.append(cls._field_defaults[name])
            else:
                raise TypeError("%s() missing field %r" % (cls.__name__, name))
        if kwargs:
            raise TypeError("%s() got unexpected fields %s" % (cls.__name__, ", ".join(kwargs)))
        return tuple.__new__(cls, values)

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % pair for pair in zip(self._fields, self)))

    def _replace(self, **changes: object) -> Record:
        return type(self)(**{**dict(zip(self._fields, self)), **changes})

    def _asdict(self) -> dict[str, object]:
        return dict(zip(self._fields, self))


def _field(index: int, name: str) -> property:
    def get(self: tuple[object, ...]) -> object:
        return self[index]

    return property(get, doc="field %s" % name)
