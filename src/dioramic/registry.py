"""Name-keyed registries: depth backends, motion presets, exporters, renderers.

Built-ins register themselves exactly as an outside plugin would::

    from dioramic.registry import Registry
    SHAPES: Registry[type] = Registry("shape")

    @SHAPES.register("circle")
    class Circle: ...

    SHAPES.get("circle")   # -> Circle
    SHAPES.get("square")   # UsageError: unknown shape 'square' (choose from: circle)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from dioramic.errors import UsageError

T = TypeVar("T")


def _identity(obj: object) -> tuple[str | None, str | None]:
    return getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)


class Registry(Generic[T]):
    """A mapping from names to objects of one kind, in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers its argument under `name` and returns it unchanged."""

        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        """Register `obj` under `name`; a name can be registered once.

        Re-registering the same definition (same module and qualified name, as when a module is
        executed a second time) replaces the earlier one.
        """
        old = self._items.get(name)
        if old is not None and (_identity(obj)[1] is None or _identity(old) != _identity(obj)):
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._items[name] = obj

    def get(self, name: str) -> T:
        """The object registered as `name`; raises UsageError listing the valid names."""
        try:
            return self._items[name]
        except KeyError:
            raise UsageError(
                f"unknown {self.kind} '{name}' (choose from: {', '.join(self._items)})"
            ) from None

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)
