# s2sad: vjp of integrate (fn_corpus.py:64) with respect to f, a, b
def integrate_vjp(f, a, b, n):
    # line 65: h = (b - a) / n
    sub = b - a
    h = sub / n
    # line 66: s = 0.5 * (f(a) + f(b))
    f_1, f_pullback = vjp_of(f, (0,), (), True)(a)
    f_2, f_pullback_1 = vjp_of(f, (0,), (), True)(b)
    add = f_1 + f_2
    s = 0.5 * add
    # line 67: for i in range(1, n):
    tape = []
    s_1 = s
    for i in range(1, n):
        # line 68: s = s + f(a + i * h)
        mul = i * h
        add_1 = a + mul
        f_3, f_pullback_2 = vjp_of(f, (0,), (), True)(add_1)
        s_2 = s_1 + f_3
        # line 67: for i in range(1, n):
        tape.append((shape_like(s_1), shape_like(f_3), f_pullback_2, shape_like(mul), i))
        s_1 = s_2
    s_3 = s_1
    # line 69: return s * h
    mul_1 = s_3 * h
    def integrate_pullback(mul_1_bar):
        # line 69: return s * h
        s_3_bar = unbroadcast(mul_1_bar * h, s_3)
        h_bar = unbroadcast(mul_1_bar * s_3, h)
        # line 67: for i in range(1, n):
        s_1_bar = s_3_bar
        a_bar = zeros_like(a)
        f_bar = zeros_like(f)
        for s_1, f_3, f_pullback_2, mul, i in reversed(tape):
            s_2_bar = s_1_bar
            # line 68: s = s + f(a + i * h)
            s_1_bar = unbroadcast(s_2_bar, s_1)
            f_3_bar = unbroadcast(s_2_bar, f_3)
            add_1_bar, f_bar_part = f_pullback_2(f_3_bar)
            f_bar = add_bars(f_bar, f_bar_part)
            a_bar = a_bar + unbroadcast(add_1_bar, a)
            mul_bar = unbroadcast(add_1_bar, mul)
            h_bar = h_bar + unbroadcast(mul_bar * i, h)
        # line 66: s = 0.5 * (f(a) + f(b))
        add_bar = s_1_bar * 0.5
        f_1_bar = unbroadcast(add_bar, f_1)
        f_2_bar = unbroadcast(add_bar, f_2)
        b_bar, f_bar_part_1 = f_pullback_1(f_2_bar)
        f_bar = add_bars(f_bar, f_bar_part_1)
        a_bar_part, f_bar_part_2 = f_pullback(f_1_bar)
        a_bar = a_bar + a_bar_part
        f_bar = add_bars(f_bar, f_bar_part_2)
        # line 65: h = (b - a) / n
        sub_bar = unbroadcast(h_bar / n, sub)
        b_bar = b_bar + unbroadcast(sub_bar, b)
        a_bar = a_bar - unbroadcast(sub_bar, a)
        return f_bar, a_bar, b_bar
    # line 69: return s * h
    return mul_1, integrate_pullback
