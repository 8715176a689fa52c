"""The examples in the public docstrings run as written."""

import doctest

import pytest

import s2sad.api
import s2sad.custom
import s2sad.testing


@pytest.mark.parametrize("module", [s2sad.api, s2sad.custom, s2sad.testing], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
