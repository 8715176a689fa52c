"""Seed 004's worked example: f(x) = (4 + sin x) · cos(sin x), and df/dx at x = π.

Prints the derivative graph (each edge labelled with its local partial), the
dominator and post-dominator trees, and the factored Jacobian function:

    df/dx = (df/da · da/dd + df/db · db/dd) · dd/de

with the slide's names a = 4 + sin x (``add``), b = cos(sin x) (``cos``), d = sin x
(``sin``), e = x. At π: dd/de = cos π = -1, da/dd = 1, db/dd = -sin(sin π) = 0,
df/da = cos(sin π) = 1, and df/db = 4 + sin π = 4 -- the slide says 0 there, but
the term is multiplied by db/dd = 0, so the result -1 is unaffected.

    python examples/derivative_graph.py
"""

import math

import s2sad
from s2sad.factor import dominators, factored


def f(x):
    return (4 + math.sin(x)) * math.cos(math.sin(x))


if __name__ == "__main__":
    print(s2sad.source(f, stage="graph"))
    graph = factored(f, {"x": None}, set()).graph
    edges = dict(enumerate(graph.edges))
    order = {n: k for k, n in enumerate(graph.nodes)}
    for title, tree in (("dominator tree (from x)", dominators(edges, "x", order, forward=True)),
                        ("post-dominator tree (from mul)", dominators(edges, "mul", order, forward=False))):
        print(f"# {title}: " + ", ".join(f"{node} <- {parent}" for node, parent in tree.items() if node != parent))
    print()
    print(s2sad.source(f, stage="factored"))
    print("df/dx at pi, factored:", s2sad.jacobian(f, method="factored")(math.pi))
    print("df/dx at pi, jacrev:  ", float(s2sad.jacrev(f)(math.pi)))
    print("df/db at pi = 4 + sin(pi) =", 4 + math.sin(math.pi), "(the slide: 0)")
