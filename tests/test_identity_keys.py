"""What is found once for every closure of one code (a transform, a function's effects) is keyed by the
library values the closure holds, by identity: a value made at the address of a dead one, after it was
collected, is not served what was found for the dead one."""

import gc

import numpy as np

from s2sad.cache import get_cache
from s2sad.frontend import library_cells
from s2sad.linker import _dynamic
from s2sad.mutation import effects

POLYS = [np.poly1d([1.0, 2.0]), np.poly1d([3.0, 0.0, 1.0])]


def _reader(method):
    def read(x):
        return method(x)

    return read


def _found_at_a_dead_ones_address(find) -> list:
    """(found for a closure holding a bound method, found for a closure of the same code holding another
    bound method made at the first's address once it died), for every time such a method was made."""
    pairs = []
    for _ in range(5):
        first = _reader(POLYS[0].deriv)
        found, address = find(first), id(first.__closure__[0].cell_contents)
        del first
        gc.collect()
        made = [POLYS[1].deriv for _ in range(2000)]  # (one of them, most likely, where the first one was)
        at_address = [m for m in made if id(m) == address]
        if at_address:
            pairs.append((found, find(_reader(at_address[0]))))
    return pairs


def test_a_key_made_for_a_dead_value_does_not_equal_one_for_a_value_at_its_address():
    pairs = _found_at_a_dead_ones_address(library_cells)
    assert pairs  # (the addresses are reused: what the other tests rely on to be able to fail)
    assert all(first != second for first, second in pairs)


def test_a_function_called_through_a_variable_has_a_transform_of_its_own_per_library_value():
    find = lambda fn: _dynamic(fn, (0,), (), False, "reverse")[3]  # noqa: E731
    assert all(first is not second for first, second in _found_at_a_dead_ones_address(find))


def test_a_functions_effects_are_found_again_for_another_library_value():
    assert all(first is not second for first, second in _found_at_a_dead_ones_address(effects))


def test_closures_of_one_code_share_transforms_only_for_the_same_library_values():
    find = lambda fn: get_cache(fn, ("x",)).shared  # noqa: E731
    pairs = _found_at_a_dead_ones_address(find)
    assert all(first is not None and first is not second for first, second in pairs)


def test_closures_holding_the_same_live_value_share_what_is_found():
    method = POLYS[0].deriv
    a, b = _reader(method), _reader(method)
    assert library_cells(a) == library_cells(b)
    assert _dynamic(a, (0,), (), False, "reverse")[3] is _dynamic(b, (0,), (), False, "reverse")[3]
    assert effects(a) is effects(b)
    assert get_cache(a, ("x",)).shared is get_cache(b, ("x",)).shared
