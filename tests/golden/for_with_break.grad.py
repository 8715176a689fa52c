# s2sad: gradient (forward pass and pullback in one function) of newton_sqrt (cf_corpus.py:63) with respect to a
def newton_sqrt_grad(a):
    # line 64: x = a
    x = a
    # line 65: for i in range(100):
    broke = False
    tape = []
    x_1 = x
    broke_1 = broke
    for i in range(100):
        # line 66: x_new = 0.5 * (x + a / x)
        div = a / x_1
        add = x_1 + div
        x_new = 0.5 * add
        # line 67: if abs(x_new - x) < 1e-12:
        sub = x_new - x_1
        abs_1 = abs(sub)
        cmp = abs_1 < 1e-12
        if cmp:
            # line 68: break
            broke_2 = True
            x_2 = x_1
        else:
            # line 69: x = x_new
            x_2 = x_new
            broke_2 = broke_1
        # line 65: for i in range(100):
        tape.append((cmp, shape_like(x_new), x_1, div))
        x_1 = x_2
        broke_1 = broke_2
        if broke_2:
            break
    x_3 = x_1
    # line 70: return x
    x_3_bar = scalar_seed(x_3)
    # line 65: for i in range(100):
    x_1_bar = x_3_bar
    a_bar = zeros_like(a)
    for cmp, x_new, x_1, div in reversed(tape):
        x_2_bar = x_1_bar
        # line 67: if abs(x_new - x) < 1e-12:
        if cmp:
            x_1_bar = x_2_bar
            x_new_bar = zeros_like(x_new)
        else:
            x_1_bar = zeros_like(x_1)
            x_new_bar = x_2_bar
        # line 66: x_new = 0.5 * (x + a / x)
        add_bar = x_new_bar * 0.5
        x_1_bar = x_1_bar + add_bar
        a_bar = a_bar + add_bar / x_1
        x_1_bar = x_1_bar - add_bar * div / x_1
    # line 64: x = a
    a_bar = a_bar + x_1_bar
    return (a_bar,)
