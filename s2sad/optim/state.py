"""Training state to and from ``.npz``: any pytree of arrays, NumPy scalars, floats, ints, bools
and None (parameters, optimizer state, loss scale, step counters, ...).

The file holds one array per leaf (``leaf_0``, ``leaf_1``, ... in tree order) and the tree's
structure as JSON (``treedef``), so ``load`` needs no template and gives back the same
containers, key order, leaf types and dtypes: a restored state continues a run bit for bit.
"""

from __future__ import annotations

import json
import os
from typing import Any, cast

import numpy as np

__all__ = ["save", "load"]

_SCALARS = {float: "float", int: "int", bool: "bool"}


def save(path: str | os.PathLike, tree: Any) -> None:
    """Write ``tree`` to ``path`` (a ``.npz`` file, uncompressed).

    >>> import numpy as np, s2sad, tempfile, os
    >>> params = {"W": np.ones((2, 2), np.float32), "b": 0.5}
    >>> opt = s2sad.optim.adam(1e-3)
    >>> path = os.path.join(tempfile.mkdtemp(), "run.npz")
    >>> s2sad.optim.save(path, {"params": params, "opt": opt.init(params)})
    >>> restored = s2sad.optim.load(path)
    >>> restored["params"]["W"].dtype, restored["opt"]["step"]
    (dtype('float32'), 0)
    """
    arrays: dict[str, np.ndarray] = {}
    spec = _encode(tree, arrays)
    arrays["treedef"] = np.array(json.dumps(spec))
    with open(path, "wb") as file:
        # mypy offers a **dict to savez's `allow_pickle: bool` too; the keys here are leaf_N and treedef
        np.savez(file, **cast(dict[str, Any], arrays))


def load(path: str | os.PathLike) -> Any:
    """The tree ``save`` wrote to ``path``."""
    with np.load(path, allow_pickle=False) as data:
        return _decode(json.loads(str(data["treedef"])), data)


def _encode(tree: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The JSON description of ``tree``; its leaves go into ``arrays``."""
    if isinstance(tree, dict):
        for key in tree:
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise TypeError(f"save keeps dict keys that are str or int, got {key!r}")
        return {"dict": [[key, _encode(value, arrays)] for key, value in tree.items()]}
    if isinstance(tree, list | tuple):
        if hasattr(tree, "_fields"):
            raise TypeError(f"save keeps tuples, lists and dicts, not a {type(tree).__name__}")
        return {type(tree).__name__: [_encode(item, arrays) for item in tree]}
    if tree is None:
        return {"none": None}
    name = f"leaf_{len(arrays)}"
    if type(tree) in _SCALARS:
        arrays[name] = np.array(tree)
        return {_SCALARS[type(tree)]: name}
    if isinstance(tree, np.ndarray | np.generic):
        if tree.dtype.hasobject:
            raise TypeError("save keeps numeric arrays, not object arrays")
        arrays[name] = np.asarray(tree)
        return {"array" if isinstance(tree, np.ndarray) else "scalar": name}
    raise TypeError(f"save keeps arrays, NumPy scalars, float, int, bool and None, not {type(tree).__name__}")


def _decode(spec: dict, data: Any) -> Any:
    (kind, body), = spec.items()
    if kind == "dict":
        return {key: _decode(value, data) for key, value in body}
    if kind in ("list", "tuple"):
        items = [_decode(item, data) for item in body]
        return items if kind == "list" else tuple(items)
    if kind == "none":
        return None
    leaf = data[body]
    if kind == "array":
        return leaf
    if kind == "scalar":
        return leaf[()]
    return {"float": float, "int": int, "bool": bool}[kind](leaf)
