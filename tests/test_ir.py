"""The IR: verify runs after every pass and catches broken invariants."""

import ast

import corpus
import pytest

from s2sad import ir
from s2sad.frontend import parse_function
from s2sad.lower import lower
from s2sad.naming import Namer
from s2sad.reverse import reverse

FUNCTIONS = [getattr(corpus, name) for name in dir(corpus) if callable(getattr(corpus, name))
             and getattr(getattr(corpus, name), "__module__", None) == "corpus"]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_every_pass_verifies(fn):
    src = parse_function(fn)
    namer = Namer()
    lowered = lower(src, namer)
    ir.verify(lowered)
    assert lowered.ssa and lowered.flat
    vjp = reverse(lowered, namer, [lowered.params.positional[0]], set()).vjp
    ir.verify(vjp)
    text = ir.dump(vjp)
    assert text.startswith(f"func {fn.__name__}_vjp(")


def _fn(*body):
    return ir.Function("f", ir.Params(args=["x"]), list(body))


def test_verify_catches_use_before_definition():
    with pytest.raises(ir.IRError, match="y used before it is defined"):
        ir.verify(_fn(ir.Assign("z", ir.BinOp("+", ir.Name("x"), ir.Name("y"))), ir.Return(ir.Name("z"))))


def test_verify_catches_double_assignment():
    with pytest.raises(ir.IRError, match="z assigned twice"):
        ir.verify(_fn(ir.Assign("z", ir.Name("x")), ir.Assign("z", ir.Name("x")), ir.Return(ir.Name("z"))))


def test_verify_catches_nested_expression_in_flat_function():
    nested = ir.BinOp("*", ir.BinOp("+", ir.Name("x"), ir.Const(1)), ir.Name("x"))
    with pytest.raises(ir.IRError, match="nested expression"):
        ir.verify(_fn(ir.Assign("z", nested), ir.Return(ir.Name("z"))))


def test_names_follow_the_user():
    lowered = lower(parse_function(corpus.reassign), Namer())
    assert [s.target for s in lowered.body if isinstance(s, ir.Assign)] == [
        "y", "mul", "y_1", "neg", "y_2"]


def _regions():
    """``for i in xs`` carrying ``c`` (result ``r``), whose body holds ``if i: t = c + i``."""
    branch = ir.If(ir.Name("i"), [ir.Assign("t", ir.BinOp("+", ir.Name("c"), ir.Name("i")))], [], ["u"],
                   ([ir.Name("t")], [ir.Name("c")]))
    loop = ir.Loop("for", [branch], "i", ir.Name("xs"), carried=["c"], inits=[ir.Name("x")], nexts=[ir.Name("u")],
                   results=["r"])
    return loop, branch


def test_bound_and_used_are_a_statements_own():
    loop, branch = _regions()
    assert ir.bound(loop) == ("c", "i", "r") and ir.bound(loop, region=False) == ("r",)
    assert ir.bound(branch) == ("u",) and ir.bound(ir.Assign(("a", "b"), ir.Name("p"))) == ("a", "b")
    assert ir.used(loop) == ["x", "xs", "u"] and ir.used(branch) == ["i", "t", "c"]
    assert ir.used(ir.Return(ir.BinOp("*", ir.Name("r"), ir.Name("r")))) == ["r", "r"]


def test_bound_in_looks_into_regions():
    loop, _ = _regions()
    outer = ir.If(ir.Name("q"), [loop], [ir.Assign("v", ir.Const(1.0))], ["w"], ([ir.Name("r")], [ir.Name("v")]))
    assert ir.bound_in([outer]) == {"w", "c", "i", "r", "u", "t", "v"}
    assert ir.bound_in([outer], into_loops=False) == {"w", "r", "v"}


def _printed_expressions(fn):
    """Every expression of ``fn``'s vjp and its nested functions."""
    src = parse_function(fn)
    namer = Namer()
    lowered = lower(src, namer)
    vjp = reverse(lowered, namer, [lowered.params.positional[0]], set()).vjp
    todo, out = [vjp], []
    while todo:
        f = todo.pop()
        for s in ir.walk(f.body):
            if isinstance(s, ir.Function):
                todo.append(s)
            out += list(ir.exprs(s))
    return out


def _nested(e):
    yield e
    for c in ir.children(e):
        yield from _nested(c)


N, C = ir.Name, ir.Const
PRECEDENCE_CASES = [
    ir.BinOp("**", ir.UnaryOp("-", N("a")), C(2)), ir.UnaryOp("-", ir.BinOp("**", N("a"), C(2))),
    ir.BinOp("**", C(-2.0), N("a")), ir.BinOp("**", N("a"), C(-2.0)), ir.BinOp("**", ir.BinOp("**", N("a"), N("b")), N("c")),
    ir.BinOp("**", N("a"), ir.BinOp("**", N("b"), N("c"))), ir.BinOp("-", N("a"), ir.BinOp("-", N("b"), N("c"))),
    ir.BinOp("-", ir.BinOp("-", N("a"), N("b")), N("c")), ir.BinOp("/", N("a"), ir.BinOp("*", N("b"), N("c"))),
    ir.BinOp("@", ir.BinOp("+", N("a"), N("b")), N("c")), ir.BinOp("&", ir.Compare("<", N("a"), N("b")), N("c")),
    ir.UnaryOp("not", ir.Compare("is not", N("a"), C(None))), ir.UnaryOp("-", C(-1)), ir.UnaryOp("~", N("m")),
    ir.Compare("<", ir.Compare("<", N("a"), N("b")), N("c")), ir.BinOp("<<", N("a"), ir.BinOp("|", N("b"), N("c"))),
    ir.Attr(ir.BinOp("+", N("a"), N("b")), "T"), ir.Attr(C(3), "real"), ir.Attr(C(-3), "real"),
    ir.Subscript(ir.UnaryOp("-", N("a")), C(-1)), ir.Subscript(N("a"), ir.Tuple([C(0), ir.Slice(None, N("n"), None)])),
    ir.Call(ir.Attr(ir.BinOp("*", N("a"), N("b")), "sum"), [ir.Starred(ir.BinOp("+", N("a"), N("b")))],
            [("axis", C(0)), (None, N("kw"))]),
    ir.Call(ir.Ref(("np", "where")), [ir.Compare(">", N("x"), C(0.0)), C(float("inf")), C(float("nan"))]),
    ir.BinOp("*", C(-0.0), C(1e300)), ir.BinOp("+", C("a'b\"c\n"), C(True)), ir.Tuple([N("a")]), C(1j), C(b"x"),
    ir.BinOp("-", N("a"), C(-(2**70))), ir.UnaryOp("+", C(-1.5)), ir.BinOp("**", ir.UnaryOp("not", N("a")), N("b")),
]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_expressions_print_as_ast_unparse_prints_them(fn):
    """``expr_str`` prints without building a syntax tree: exactly what ``ast.unparse`` prints."""
    for top in _printed_expressions(fn):
        for e in _nested(top):
            assert ir.expr_str(e) == ast.unparse(ir.to_ast(e))


@pytest.mark.parametrize("top", PRECEDENCE_CASES, ids=ir.expr_str)
def test_operands_are_parenthesised_as_ast_unparse_does(top):
    for e in _nested(top):
        assert ir.expr_str(e) == ast.unparse(ir.to_ast(e))
