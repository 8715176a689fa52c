"""The dataflow walkers of ``ir`` (``Forward``, ``Reach``, ``Backward``) on hand-built IR: what the
regions mean to an analysis (an ``If``'s outs, a ``Loop``'s carried values) is coded there once."""

from s2sad import ir

N, C = ir.Name, ir.Const


def add(target: str, *names: str) -> ir.Assign:
    value: ir.Expr = N(names[0])
    for n in names[1:]:
        value = ir.BinOp("+", value, N(n))
    return ir.Assign(target, value)


class Reads(ir.Reach):
    """Which names depend on the starting set, through any operand."""

    def transfer(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Assign) and any(n in self.found for n in ir.names_read(s.value)):
            self.found.update(s.targets)


class Needed(ir.Backward):
    """Which names the returned value reads, through any operand."""

    def __init__(self) -> None:
        self.needed: set[str] = set()

    def fact(self, name: str) -> bool:
        return name in self.needed

    def flow(self, e: ir.Expr, fact: object) -> None:
        if fact:
            self.needed.update(ir.names_read(e))

    def transfer(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Return):
            self.flow(s.value, True)
        elif isinstance(s, ir.Assign) and self.needed.intersection(s.targets):
            self.flow(s.value, True)


def counting_loop(body: list[ir.Stmt], nexts: list[ir.Expr]) -> ir.Loop:
    """``for i in range(n)`` carrying ``(a, b)`` from ``(0.0, 0.0)`` to ``(a_r, b_r)``."""
    return ir.Loop("for", body, target="i", iter=ir.Call(ir.Ref(("range",), range), [N("n")]),
                   carried=["a", "b"], inits=[C(0.0), C(0.0)], nexts=nexts, results=["a_r", "b_r"])


def test_a_value_varies_only_through_a_loops_next():
    # b's next reads a, whose next reads x: b varies from the second iteration on
    loop = counting_loop([add("a1", "a", "x"), add("b1", "b", "a")], [N("a1"), N("b1")])
    found = Reads({"x"}).run([loop, ir.Return(N("b_r"))]).found
    assert found == {"x", "a", "a1", "b", "b1", "a_r", "b_r"}
    # without x there is nothing to reach
    assert Reads({"n"}).run([loop]).found == {"n", "i"}  # (the target: from what the loop iterates)


def test_a_yield_from_one_arm_only():
    branch = ir.If(N("t"), [add("u", "x")], [], outs=["o", "p"],
                   yields=([N("u"), N("y")], [C(1.0), N("y")]))
    found = Reads({"x"}).run([branch]).found
    assert found == {"x", "u", "o"}
    assert "p" not in found  # both arms yield y, which does not depend on x


class Kind(ir.Forward):
    """A lattice: "int" or "float" (None above both), joined at an if's outs and a loop's carried values."""

    def __init__(self) -> None:
        self.env: dict[str, object] = {}

    def of(self, e):
        if isinstance(e, ir.Const):
            return type(e.value).__name__
        return self.env.get(e.id) if isinstance(e, ir.Name) else None

    def bind(self, name, fact):
        self.env[name] = fact

    def forget(self, name):
        self.env.pop(name, None)

    def join(self, a, b):
        return a if a == b else None

    def transfer(self, s):
        if isinstance(s, ir.Assign):
            self.bind(s.target, self.of(s.value) if isinstance(s.value, ir.ATOMS) else None)


def test_an_out_bound_in_an_arm_holds_there_only():
    # `o` is bound in the then-arm (an int) and yielded as 1.0 by the else-arm: after the if it is neither
    branch = ir.If(N("t"), [ir.Assign("o", C(1))], [], outs=["o"], yields=([N("o")], [C(1.0)]))
    assert Kind().run([branch]).env["o"] is None
    same = ir.If(N("t"), [ir.Assign("o", C(1))], [], outs=["o"], yields=([N("o")], [C(2)]))
    assert Kind().run([same]).env["o"] == "int"


def test_a_carried_value_is_joined_with_its_next():
    loop = counting_loop([ir.Assign("a1", C(1)), ir.Assign("b1", N("b"))], [N("a1"), N("b1")])
    env = Kind().run([loop]).env
    assert env["a_r"] is None  # float at the start, int after an iteration
    assert env["b_r"] == "float"


def test_backward_usefulness_through_a_loop_carried_value():
    # only b reaches the return; b's next reads a, whose next reads x: x is needed, y is not
    loop = counting_loop([add("a1", "a", "x"), add("b1", "b", "a"), add("c", "y")], [N("a1"), N("b1")])
    needed = Needed().run([loop, ir.Return(N("b_r"))]).needed
    assert {"b_r", "b", "b1", "a", "a1", "x"} <= needed
    assert not needed & {"a_r", "c", "y", "n"}  # (what steers the loop is not a value's operand)


def test_backward_through_an_if_reaches_the_yields_of_used_outs_only():
    branch = ir.If(N("t"), [add("u", "x"), add("v", "y")], [add("w", "z")], outs=["o", "p"],
                   yields=([N("u"), N("v")], [N("w"), N("z")]))
    needed = Needed().run([branch, ir.Return(N("o"))]).needed
    assert needed == {"o", "u", "x", "w", "z"}


class Made(ir.Forward):
    """Which objects a name may hold, by where they were made (a call makes one); an object made in a loop's
    body is an older one (``'``) in the next iteration. Each statement notes the arms it is in."""

    def __init__(self, age_results: bool = False) -> None:
        self.env: dict[str, frozenset] = {}
        self.where: dict[str, tuple] = {}
        self.arms: tuple = ()
        self.age_results = age_results

    def of(self, e):
        return self.env.get(e.id, frozenset()) if isinstance(e, ir.Name) else frozenset()

    def bind(self, name, fact):
        self.env[name] = fact

    def forget(self, name):
        self.env.pop(name, None)

    def join(self, a, b):
        return a | b

    def arm(self, s, k):
        around, self.arms = self.arms, (*self.arms, (s.test.id, k))
        super().arm(s, k)
        self.arms = around

    def carry(self, s, k, fact):
        return frozenset(m + "'" for m in fact)

    def result(self, s, k, fact):
        return self.join(fact, self.of(s.nexts[k])) if self.age_results else fact

    def transfer(self, s):
        if isinstance(s, ir.Assign):
            self.where[s.target] = self.arms
            self.bind(s.target, frozenset([s.target]) if isinstance(s.value, ir.Call) else self.of(s.value))


def test_arm_tells_a_statement_which_arms_it_is_in():
    inner = ir.If(N("u"), [ir.Assign("a", C(1))], [ir.Assign("b", C(2))])
    outer = ir.If(N("t"), [], [inner, ir.Assign("c", C(3))])
    where = Made().run([outer, ir.Assign("d", C(4))]).where
    assert where == {"a": (("t", 1), ("u", 0)), "b": (("t", 1), ("u", 1)), "c": (("t", 1),), "d": ()}


def test_carry_changes_what_a_next_value_gives_the_next_iteration():
    make = ir.Call(ir.Ref(("f",), None), [])
    loop = ir.Loop("while", [ir.Assign("m", make), ir.Assign("b1", N("a"))], cond=N("t"), carried=["a", "b"],
                   inits=[N("x"), N("x")], nexts=[N("m"), N("b1")], results=["a_r", "b_r"])
    body = [ir.Assign("x", make), loop]
    env = Made().run(body).env
    assert env["a"] == {"x", "m'"}  # (the init, and what an earlier iteration made)
    assert env["b"] == {"x", "x'", "m''"}  # (b1 is a: in the iteration after, older again)
    assert env["a_r"] == {"x", "m'"}  # by default a result gets its carried value's fact
    assert Made(age_results=True).run(body).env["a_r"] == {"x", "m'", "m"}  # and the last object made, as it is
