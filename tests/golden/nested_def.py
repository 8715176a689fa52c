# s2sad: vjp of nested_capture (fn_corpus.py:53) with respect to x
def nested_capture_vjp(x):
    # line 54: def inner(y):
    def inner(y):
        return x * y + y * y
    # line 56: return inner(3.0) * x + inner(x)
    inner_1, inner_pullback = vjp_of(inner, (), (), True)(3.0)
    mul = inner_1 * x
    inner_2, inner_pullback_1 = vjp_of(inner, (0,), (), True)(x)
    add = mul + inner_2
    def nested_capture_pullback(add_bar):
        # line 56: return inner(3.0) * x + inner(x)
        mul_bar = unbroadcast(add_bar, mul)
        inner_2_bar = unbroadcast(add_bar, inner_2)
        x_bar, inner_bar = inner_pullback_1(inner_2_bar)
        inner_1_bar = unbroadcast(mul_bar * x, inner_1)
        x_bar = add_bars(x_bar, unbroadcast(mul_bar * inner_1, x))
        (inner_bar_part,) = inner_pullback(inner_1_bar)
        inner_bar = add_bars(inner_bar, inner_bar_part)
        # line 54: def inner(y):
        x_bar = add_bars(x_bar, captured_adjoint(inner_bar, 'x', x))
        return (x_bar,)
    # line 56: return inner(3.0) * x + inner(x)
    return add, nested_capture_pullback
