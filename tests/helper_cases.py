"""First-order cases for the rules of s2sad's own run-time helpers (``rules_runtime``).

Generated code calls these helpers; a derivative of a derivative differentiates them. Each
case calls the helper directly, as generated code does, inside a nonlinear scalar function,
so that ``test_rules_higher`` also checks a nonzero second derivative through it.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from s2sad import runtime as rt
from s2sad import runtime_numpy as rn


def s(v):
    return np.sum(np.sin(v))


def s_list(vs):
    total = 0.0
    for v in vs:
        total = total + np.sum(np.sin(v))
    return total


def _pop_adjoint(g0, g1, v):
    return s_list(rt.list_pop_adjoint([g0, g1], v, v, 1))


def _pop_jvp(a, b, c):
    v, rest = rt.list_pop_jvp([a, b, c], 1)
    return s(v) * 2.0 + s_list(rest)


def _items(a, b):
    d = rt.items_adjoint([("a", a), ("b", b)], {"a": 0.0, "b": b})
    return s(d["a"]) + s(d["b"]) * 2.0


def _items_like(a, b):
    pairs = rt.items_like({"a": a, "b": b}, {"a": 0.0, "b": b})
    return s(pairs[0][1]) + s(pairs[1][1]) * 2.0


def _merged_adjoint(a, b):
    d, pairs = rt.merged_adjoint({"a": a, "b": b}, ({"a": 0.0, "b": b}, [("a", a)]))
    return s(d["a"]) + s(d["b"]) * 2.0 + s(pairs[0][1]) * 3.0


def _merged_jvp(a, b):
    t = rt.merged_jvp(({"a": a, "b": b}, [("a", b * a)]), ({"a": 0.0, "b": b}, [("a", a)]))
    return s(t["a"]) + s(t["b"]) * 2.0


Pair = collections.namedtuple("Pair", "w b")


@dataclasses.dataclass
class Layer:
    w: object
    b: object
    name: str = dataclasses.field(default="layer", metadata={"static": True})


def _record_jvp(a, b):
    t = rt.record_jvp(Layer(np.ones(3), 0.5), ("w", "b"), a, b)
    return s(t.w) * s(t.b)


def cases(C, spd):
    """Cases by rule name; ``C(shape)`` gives a fixed random array."""
    a34, a43, b3, b4 = C((3, 4)), C((4, 3)), C((3,)), C((4,))
    clip_x = np.array([-1.0, -0.2, 0.3, 0.9, 1.4])
    ties = np.array([[0.5, 2.0, 2.0], [1.0, -1.0, 0.3]])
    return {
        "add_at": [(lambda buf, g: s(rt.add_at(buf * 1.0, g, [0, 2, 2])), (C((4,)), C((3,)))),
                   (lambda buf, g: s(rt.add_at(buf * 1.0, g, 1)), (C((3, 2)), C((2,))))],
        "snapshot": [(lambda x: s(rt.snapshot(x)), (b3,))],
        "broadcast_like": [(lambda t: s(rt.broadcast_like(t, a34) * a34), (b4,))],
        "setitem_adjoint": [(lambda g: s(rt.setitem_adjoint(g, (slice(1, 3), 0))), (a34,))],
        "setitem_value_adjoint": [(lambda g: s(rt.setitem_value_adjoint(g, [0, 2, 0])), (C((4, 2)),))],
        "setitem_jvp": [(lambda x, v: s(rt.setitem_jvp(x, [2, 0, 2], v)), (b4, b3)),
                        (lambda x, v: s(rt.setitem_jvp(x, slice(1, 3), v)), (b4, 0.5))],
        "list_tail_adjoint": [(lambda a, b, c: s_list(rt.list_tail_adjoint([a, b, c], [0.0, 0.0])), (0.3, b3, b3)),
                              (lambda a, b: s(rt.list_tail_adjoint([a, b], b3[:2])), (0.3, 0.7))],
        "tail_into": [(lambda a, b: s_list(rt.tail_into([a, b], [0.0, b3, b3])), (0.4, b3))],
        "list_pop_adjoint": [(_pop_adjoint, (0.3, 0.9, 1.2))],
        "list_pop_jvp": [(_pop_jvp, (0.3, b3, 0.8))],
        "list_jvp": [(lambda a, b: s_list(rt.list_jvp([0.0, 0.0, 0.0], [a], [b, a * b])), (0.3, 0.7))],
        "sequence_adjoint": [(lambda a, b: s_list(rt.sequence_adjoint([a, b], (0.0, 0.0))), (0.3, 0.7)),
                             (lambda g: s(rt.sequence_adjoint(g, a34)), (a34,))],
        "sequence_like": [(lambda x: s_list(rt.sequence_like(x, [0.0, 0.0, 0.0], b3)), (b3,)),
                          (lambda a, b: s_list(rt.sequence_like([a, b], [0.0, 0.0], [1.0, 2.0])), (0.3, 0.7))],
        "items_adjoint": [(_items, (0.4, b3))],
        "merged_adjoint": [(_merged_adjoint, (0.4, b3))],
        "scattered": [(lambda a, b: s(rn.scattered(a, np.array([0, 2, 2]), b * b)), (b3, b3))],
        "unzipped": [(lambda a, b: s_list(rt.unzipped([(a, b), (b * a, a)], ([0.0, b3], [b3, 0.0]))[1]) + s(a),
                      (0.4, b3))],
        "add_transpose": [(lambda a, b: s(rt.add_transpose((a, np.sum(b * a)), b, 0.5)), (b3, b3)),
                          (lambda a, b: s_list(rt.add_transpose(([a], [b, a * b]), [0.0], [0.0, 1.0])), (0.4, b3))],
        "add_adjoint": [(lambda g, x: s(rt.add_adjoint(g, x, 0.5)[0]) + s(rt.add_adjoint(g, x, 0.5)[1]), (b3, b3)),
                        (lambda a, b: s_list(rt.add_adjoint([a, b, a * b], [0.0], [0.0, 1.0])[1]) * s(a), (0.4, b3))],
        "merged_jvp": [(_merged_jvp, (0.4, b3))],
        "dict_adjoint": [(lambda a, b: s(rt.dict_adjoint({"a": a, "b": b}, {"a": 0.0, "b": b})["b"]) * s(a), (0.4, b3))],
        "dict_jvp": [(lambda a, b: s(rt.dict_jvp({"a": a, "b": b}, {"a": 0.0, "b": b})["a"]) * s(b), (0.4, b3))],
        "items_like": [(_items_like, (0.4, b3))],
        "values_adjoint": [(lambda a, b: s(rt.values_adjoint([a, b], {"a": 0.0, "b": 1.0})["b"]) * a, (0.4, 0.9))],
        "values_like": [(lambda a, b: s_list(rt.values_like({"a": a, "b": b}, {"b": 1.0, "a": 0.0})), (0.4, b3))],
        "get_adjoint": [(lambda g: s(rt.get_adjoint(g, {"a": 0.0, "b": 1.0}, "b")["b"]), (0.4,)),
                        (lambda g: s(rt.get_adjoint(g, {"a": 0.0}, "z")["a"]) + g, (0.4,))],
        "get_default_adjoint": [(lambda g: s(rt.get_default_adjoint(g, {"a": 0.0}, "z", 0.0)), (0.4,))],
        "get_jvp": [(lambda d, v: s(rt.get_jvp({"a": d, "b": v}, {"a": 0.0, "b": 0.0}, "a", v)), (0.4, 0.2)),
                    (lambda d, v: s(rt.get_jvp({"a": d}, {"a": 0.0}, "z", v)) + d, (0.4, 0.2))],
        "tolist_adjoint": [(lambda a, b: s(rt.tolist_adjoint([a, b], np.zeros(2))), (0.4, 0.2))],
        "tolist_jvp": [(lambda x: s_list(rt.tolist_jvp(x)), (C((2,)),))],
        "split_star": [(lambda a, b, c: s_list(rt.split_star((a, b, c), (None, (0.0, 0.0)))[1]) * a, (0.3, b3, 0.7)),
                       (lambda a, g: s(rt.split_star((a, g[0], g[1]), (None, b3[:2]))[1]) * a, (0.3, C((2, 3))))],
        "join_star": [(lambda a, b, c: s_list(rt.join_star((a, (b, c)), (None, (0.0, 0.0)))) * a, (0.3, b3, 0.7)),
                      (lambda a, g: s_list(rt.join_star((a, g), (None, b3[:2]))) * a, (0.3, C((2, 3))))],
        "split_kwargs": [(lambda a, b: s_list(rt.split_kwargs({"a": a, "b": b}, ("a", {"b": 0.0}))[1].values()) * a,
                          (0.3, b3))],
        "join_kwargs": [(lambda a, b: s(rt.join_kwargs((a, {"b": b}), ("a", {"b": 0.0}))["b"]) * a, (0.3, b3))],
        "field_adjoint": [(lambda g: s(rt.field_adjoint(g, Pair(b3, 0.5), "w").w), (b3,)),
                          (lambda g: s(rt.field_adjoint(g, Layer(b3, 0.5), "b").b) * g, (0.4,))],
        "field_tangent": [(lambda a, b: s(rt.field_tangent(Layer(a, b), Layer(b3, 0.5), "w")) * b, (b3, 0.4)),
                          (lambda a, b: s(rt.field_tangent((a, b), Pair(b3, 0.5), "b")) + s(a), (b3, 0.4))],
        "field_of": [(lambda a, b: s(rt.field_of(Pair(a, b), "b", 1)) * s(a), (b3, 0.4)),
                     (lambda a, b: s(rt.field_of(Layer(a, b), "w", 0)) * b, (b3, 0.4))],
        "record_jvp": [(_record_jvp, (b3, 0.4))],
        "repeat_adjoint": [(lambda a, b: s_list(rt.repeat_adjoint([a, b, b, a], [0.0, 0.0])), (0.4, 0.2))],
        "repeat_like": [(lambda a, b: s_list(rt.repeat_like([a, b], [0.0, 0.0, 0.0, 0.0])), (0.4, 0.2))],
        "mT": [(lambda x: s(rn.mT(x) * a43), (a34,))],
        "cast_like": [(lambda g: s(rn.cast_like(g, a34)), (a34,))],
        "chosen": [(lambda a, b: s(rn.chosen(True, a, b) * rn.chosen(False, a, b)), (b3, b3 * 0.5)),
                   (lambda a, b: rn.chosen(a > b, a, b) ** 2, (0.4, 0.2))],
        "array_adjoint": [(lambda g: s_list(rn.array_adjoint(g, [0.0, b3])), (C((2, 3)),))],
        "pad_adjoint": [(lambda g: s(rn.pad_adjoint(g, b3, ((1, 2),))), (C((6,)),))],
        "diff_adjoint": [(lambda g: s(rn.diff_adjoint(g, C((5, 3)), 2, 0)), (b3[None, :] * C((3, 1)),))],
        "cycled": [(lambda v: s(rn.cycled(v, (2, 4))), (b3,)), (lambda v: s(rn.cycled(v, 2)), (a34,))],
        "cycled_adjoint": [(lambda g: s(rn.cycled_adjoint(g, b3)), (C((2, 4)),)),
                           (lambda g: s(rn.cycled_adjoint(g, a34)), (C((5,)),))],
        "tile_adjoint": [(lambda g: s(rn.tile_adjoint(g, b3, (2, 2))), (C((2, 6)),))],
        "numpy repeat_adjoint": [(lambda g: s(rn.repeat_adjoint(g, a34, 2, 1)), (C((3, 8)),)),
                                 (lambda g: s(rn.repeat_adjoint(g, b3, [1, 0, 3], None)), (b4,))],
        "unconcatenate": [(lambda g: s_list(rn.unconcatenate(g, [b3, b4], 0)), (C((7,)),)),
                          (lambda g: s_list(rn.unconcatenate(g, [a34, a34[:1]], None)), (C((16,)),))],
        "unstack": [(lambda g: s_list(rn.unstack(g, [b4, b4], 1)), (C((4, 2)),))],
        "unconcatenate_entries": [(lambda g: s_list(rn.unconcatenate_entries(g, (b3, 2.0, b4), 0, 1, -1)), (C((8,)),)),
                                  (lambda g: s_list(rn.unconcatenate_entries(g, (b3, a34), -1, 2, 0)), (C((3, 5)),))],
        "concatenate_entries": [(lambda a, b: s(rn.concatenate_entries((a, None, b), (b3, 2.0, b4), 0, 1, -1)), (b3, b4)),
                                (lambda a, b: s(rn.concatenate_entries((a, b), (b3, a34), -1, 2, 0)), (b3, a34))],
        "unjoin": [(lambda g: s_list(rn.unjoin(g, [b4, a34], "vstack")), (C((4, 4)),)),
                   (lambda g: s_list(rn.unjoin(g, [b3, a34], "column_stack")), (C((3, 5)),))],
        "unappend": [(lambda g: s(rn.unappend(g, b3, b4, None, 1)) + s(rn.unappend(g, b3, b4, None, 0)), (C((7,)),))],
        "unsplit": [(lambda a, b: s(rn.unsplit([a, b], b4, 0)), (C((1,)), b3))],
        "take_adjoint": [(lambda g: s(rn.take_adjoint(g, b4, [0, 2, 2], None)), (b3,)),
                         (lambda g: s(rn.take_adjoint(g, a34, [1, 1], 1)), (C((3, 2)),))],
        "take_along_axis_adjoint": [(lambda g: s(rn.take_along_axis_adjoint(g, a34, np.array([[0, 0], [2, 1], [3, 3]]),
                                                                          1)), (C((3, 2)),))],
        "sort_adjoint": [(lambda g: s(rn.sort_adjoint(g, C((5,)), -1)), (C((5,)),)),
                         (lambda g: s(rn.sort_adjoint(g, a34, None)), (C((12,)),))],
        "sort_jvp": [(lambda d: s(rn.sort_jvp(d, a34, 0)), (a34,))],
        "trace_adjoint": [(lambda g: s(rn.trace_adjoint(g, a34, 1)), (0.7,))],
        "diag_adjoint": [(lambda g: s(rn.diag_adjoint(g, b4, 0)), (C((4, 4)),)),
                         (lambda g: s(rn.diag_adjoint(g, a34, -1)), (C((2,)),))],
        "diagonal_adjoint": [(lambda g: s(rn.diagonal_adjoint(g, a34, 1, 0, 1)), (b3,))],
        "cumsum_adjoint": [(lambda g: s(rn.cumsum_adjoint(g, a34, 1)), (a34,)),
                           (lambda g: s(rn.cumsum_adjoint(g, a34, None)), (C((12,)),))],
        "reduce_to": [(lambda h: s(rn.reduce_to(h, b3, 1, False)), (a34,))],
        "linspace_adjoint": [(lambda g: s(rn.linspace_adjoint(g, 5, 0) * rn.linspace_adjoint(g, 5, 1)), (C((5,)),))],
        "linspace_jvp": [(lambda a, b: s(rn.linspace_jvp(a, b, 5)), (0.3, -0.8))],
        "clip_adjoint": [(lambda g: s(rn.clip_adjoint(g, clip_x, -0.5, 1.0)), (C((5,)),))],
        "clip_bound_adjoint": [(lambda g: s(rn.clip_bound_adjoint(g, clip_x, 0.5, 1)), (C((5,)),))],
        "clip_bound_transpose": [(lambda h: s(rn.clip_bound_transpose(h, C((5,)), clip_x, 0.5, -1)), (0.3,))],
        "max_adjoint": [(lambda g: s(rn.max_adjoint(g, ties, np.max(ties, axis=1), 1, False)), (C((2,)),)),
                        (lambda g: s(rn.max_adjoint(g, ties, np.max(ties), None, False)), (0.4,))],
        "builtin_sum_adjoint": [(lambda g: s_list(rn.builtin_sum_adjoint(g, [0.0, b4])), (b4,)),
                                (lambda g: s(rn.builtin_sum_adjoint(g, a34)), (b4,))],
        "tensordot_adjoint": [(lambda g, b: s(rn.tensordot_adjoint(g, a34, b, 1, 0)), (C((3, 3)), a43)),
                              (lambda g, a: s(rn.tensordot_adjoint(g, a, a43, ([0], [1]), 1)), (C((4, 4)), a34))],
        "inner_adjoint": [(lambda g, b: s(rn.inner_adjoint(g, a34, b, 0)), (C((3, 2)), C((2, 4)))),
                          (lambda g, a: s(rn.inner_adjoint(g, a, C((2, 4)), 1)), (C((3, 2)), a34))],
        "kron_adjoint": [(lambda g, b: s(rn.kron_adjoint(g, C((2, 3)), b, 0)), (C((6, 6)), C((3, 2)))),
                         (lambda g, a: s(rn.kron_adjoint(g, a, C((3, 2)), 1)), (C((6, 6)), C((2, 3))))],
        "einsum_adjoint": [(lambda g, b: s(rn.einsum_adjoint(g, "ij,jk->ik", 0, a34, b)), (C((3, 3)), a43)),
                           (lambda g, a: s(rn.einsum_adjoint(g, "ij,jk", 1, a, a43)), (C((3, 3)), a34)),
                           (lambda g, b: s(rn.einsum_adjoint(g, "ij,j->i", 0, a34, b)), (b3, b4)),
                           (lambda g, b: s(rn.einsum_adjoint(g, "ii,i->i", 0, C((3, 3)), b)), (b3, b3))],
        "var_adjoint": [(lambda g, x: s(rn.var_adjoint(g, x, np.var(a34, axis=0), 0, 0, False)), (b4, a34)),
                        (lambda g, x: s(rn.var_adjoint(g, x, 0.5, None, 1, False)), (0.7, b4))],
        "std_adjoint": [(lambda g, x, sd: s(rn.std_adjoint(g, x, sd, 1, 0, True)), (C((3, 1)), a34, C((3, 1)) + 2.0))],
        "softmax_adjoint": [(lambda g, p: s(rn.softmax_adjoint(g, p, 1)), (a34, a34 + 2.0))],
        "log_softmax_adjoint": [(lambda g, p: s(rn.log_softmax_adjoint(g, p, 0)), (a34, a34 - 1.0))],
        "log_softmax_jvp": [(lambda d, p: s(rn.log_softmax_jvp(d, p, None)), (a34, a34 - 1.0))],
        "norm_adjoint": [(lambda g, x, n: s(rn.norm_adjoint(g, x, n, None, 1, False)), (b3, a34, b3 + 2.0)),
                         (lambda g, x, n: s(rn.norm_adjoint(g, x, n, 1, None, False)), (0.4, C((5,)) + 3.0, 0.0))],
        "safe_divide": [(lambda a, b: s(rn.safe_divide(a, b)), (a34, b4 + 2.0))],
        "xlogy_y_adjoint": [(lambda g, x, y: s(rn.xlogy_y_adjoint(g, x, y)), (b3, b3, b3 + 2.0))],
        "prod_adjoint": [(lambda g, x: s(rn.prod_adjoint(g, x, 0.0, 1, False)), (b3, a34)),
                         (lambda g, x: s(rn.prod_adjoint(g, x, 0.0, None, False)), (0.4, np.array([0.5, 0.0, 2.0])))],
        "prod_others": [(lambda x, v: s(rn.prod_others(x, 0, v)), (a34, a34)),
                        (lambda v: s(rn.prod_others(np.array([0.5, 0.0, 2.0, 0.0]), None, v)), (b4,)),
                        (lambda x, v, w: s(rn.prod_others(x, (0, 1), v, w)), (a34, a34 + 1.0, a34 * 2.0)),
                        (lambda x: s(rn.prod_others(x, 1)), (np.array([[0.5, 0.0, 2.0], [1.5, -1.0, 0.7]]),))],
        "cumprod_terms": [(lambda x, v: s(rn.cumprod_terms(x, 1, v)), (a34, a34 + 0.5)),
                          (lambda x, u, v: s(rn.cumprod_terms(x, None, u, v)), (np.array([1.5, 0.0, 2.0, -1.0]), b4, b4 + 1.0)),
                          (lambda x: s(rn.cumprod_terms(x, 0)), (a34,))],
        "cumprod_terms_adjoint": [(lambda h, x, v: s(rn.cumprod_terms_adjoint(h, x, 0, v)), (a34, a34, a34 - 0.5)),
                                  (lambda h, x: s(rn.cumprod_terms_adjoint(h, x, None)), (b4, np.array([1.5, 0.0, 2.0, 0.0]))),
                                  (lambda h, x, u, v: s(rn.cumprod_terms_adjoint(h, x, 1, u, v)), (a34, a34, a34 + 1.0, a34 * 0.5))],
        "cumprod_adjoint": [(lambda g, x: s(rn.cumprod_adjoint(g, x, np.cumprod(x, axis=1), 1)), (a34, a34)),
                            (lambda g, x: s(rn.cumprod_adjoint(g, x, np.cumprod(x), None)),
                             (b4, np.array([1.5, 0.0, 2.0, -1.0])))],
        "cumprod_jvp": [(lambda d, x: s(rn.cumprod_jvp(d, x, np.cumprod(x, axis=0), 0)), (a34, a34)),
                        (lambda d, x: s(rn.cumprod_jvp(d, x, np.cumprod(x), None)), (b4, np.array([1.5, 0.0, 2.0, 0.0])))],
        "multi_dot_sum": [(lambda a, b, d: s(rn.multi_dot_sum([a, b, a34], [d, None, None])), (C((2, 3)), C((3, 3)),
                                                                                              C((2, 3)))),
                          (lambda a, d, e: s(rn.multi_dot_sum([a, a34, b4], [d, None, None], [None, e, None])),
                           (b3[None, :] * C((3, 1)), C((3, 3)), C((3, 4))))],
        "multi_dot_sum_adjoint": [(lambda h, a, d: s_list(rn.multi_dot_sum_adjoint(h, 0, [a, C((3, 3)), a34],
                                                                                   [None, d, None])),
                                   (C((2, 4)), C((2, 3)), C((3, 3)))),
                                  (lambda h, a, d: s_list(rn.multi_dot_sum_adjoint(h, 1, [a, C((3, 3)), a34],
                                                                                   [d, None, None])),
                                   (C((2, 4)), C((2, 3)), C((2, 3))))],
        "triangular_solve": [(lambda a, b: s(rn.triangular_solve(a, b, True)), (C((3, 3)) + 3.0 * np.eye(3), a34)),
                             (lambda a, b: s(rn.triangular_solve(a, b, False, True)), (C((3, 3)) + 3.0 * np.eye(3), b3)),
                             (lambda a, b: s(rn.triangular_solve(a, b, True, False, True)),
                              (C((4, 4)) + 3.0 * np.eye(4), a34)),
                             (lambda a, b: s(rn.triangular_solve(a, b, False, True, True)),
                              (C((2, 3, 3)) + 3.0 * np.eye(3), C((2, 4, 3))))],
        "triangular_matmul": [(lambda a, b: s(rn.triangular_matmul(a, b, True)), (C((3, 3)), a34)),
                              (lambda a, b: s(rn.triangular_matmul(a, b, False, True)), (C((3, 3)), a34)),
                              (lambda a, b: s(rn.triangular_matmul(a, b, True, True)), (C((2, 3, 3)), C((2, 3, 4))))],
        "symmetric_part": [(lambda x: s(rn.symmetric_part(x) * x), (C((3, 3)),)),
                           (lambda x: s(rn.symmetric_part(x)), (C((2, 3, 3)),))],
        "tril_half_diagonal": [(lambda x: s(rn.tril_half_diagonal(x) * x), (C((3, 3)),)),
                               (lambda x: s(rn.tril_half_diagonal(x)), (C((2, 3, 3)),))],
        "float_primals": [(lambda a, b: s(rt.float_primals((a, b), 2)[1]) * a, (0.4, b3))],
        "jacobian_column": [(lambda t: s(rt.jacobian_column(t) * t), (b3,))],
        "require_same_shape": [(lambda x: s(rn.require_same_shape(x, a34, "svd") * x), (a34,))],
        "require_real": [(lambda x: s(rn.require_real(x, "eig") * x), (b3,))],
        "lstsq_solution_cotangent": [(lambda g: s(rn.lstsq_solution_cotangent((g, np.zeros(1), 0, np.zeros(3))) * g),
                                      (b3,))],
    }
