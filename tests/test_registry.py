import pytest

from dioramic.errors import UsageError
from dioramic.registry import Registry


def test_register_get_and_unknown_name_lists_choices() -> None:
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1)

    @reg.register("b")
    def b() -> int:
        return 2

    assert reg.get("a") == 1 and reg.get("b") is b
    assert reg.names() == ["a", "b"] and "a" in reg and len(reg) == 2
    with pytest.raises(UsageError, match=r"unknown thing 'c' \(choose from: a, b\)"):
        reg.get("c")
    with pytest.raises(ValueError, match="already registered"):
        reg.add("a", 3)


def test_reregistering_the_same_definition_replaces_it() -> None:
    reg: Registry[type] = Registry("thing")

    class A: ...

    reg.add("a", A)
    first = A

    class A: ...

    reg.add("a", A)
    assert reg.get("a") is A and reg.get("a") is not first
