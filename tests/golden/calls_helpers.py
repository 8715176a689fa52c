# s2sad: vjp of uses_helpers (fn_corpus.py:17) with respect to x, y
def uses_helpers_vjp(x, y):
    # line 18: return sq(x) + mix(x, y) * sq(y) + poly(x, y)
    sq_1, sq_pullback = sq_vjp(x)
    mix_1, mix_pullback = mix_vjp(x, y)
    sq_2, sq_pullback_1 = sq_vjp(y)
    mul = mix_1 * sq_2
    add = sq_1 + mul
    poly_1, poly_pullback = poly_vjp(x, y)
    add_1 = add + poly_1
    def uses_helpers_pullback(add_1_bar):
        # line 18: return sq(x) + mix(x, y) * sq(y) + poly(x, y)
        add_bar = unbroadcast(add_1_bar, add)
        poly_1_bar = unbroadcast(add_1_bar, poly_1)
        x_bar, y_bar = poly_pullback(poly_1_bar)
        sq_1_bar = unbroadcast(add_bar, sq_1)
        mul_bar = unbroadcast(add_bar, mul)
        mix_1_bar = unbroadcast(mul_bar * sq_2, mix_1)
        sq_2_bar = unbroadcast(mul_bar * mix_1, sq_2)
        (y_bar_part,) = sq_pullback_1(sq_2_bar)
        y_bar = add_bars(y_bar, y_bar_part)
        x_bar_part, y_bar_part_1 = mix_pullback(mix_1_bar)
        x_bar = add_bars(x_bar, x_bar_part)
        y_bar = add_bars(y_bar, y_bar_part_1)
        (x_bar_part_1,) = sq_pullback(sq_1_bar)
        x_bar = add_bars(x_bar, x_bar_part_1)
        return x_bar, y_bar
    # line 18: return sq(x) + mix(x, y) * sq(y) + poly(x, y)
    return add_1, uses_helpers_pullback
