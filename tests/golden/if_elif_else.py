# s2sad: vjp of piecewise (cf_corpus.py:8) with respect to x
def piecewise_vjp(x):
    # line 9: if x < 0:
    cmp = x < 0
    if cmp:
        # line 10: y = -x * x
        neg = -x
        y = neg * x
    else:
        # line 11: elif x < 1:
        cmp_1 = x < 1
        if cmp_1:
            # line 12: y = math.sin(x)
            y = math.sin(x)
        else:
            # line 14: y = x ** 3
            y = x ** 3
    # line 15: return y * 2.0
    mul = y * 2.0
    def piecewise_pullback(mul_bar):
        # line 15: return y * 2.0
        y_bar = mul_bar * 2.0
        # line 9: if x < 0:
        if cmp:
            # line 10: y = -x * x
            neg_bar = y_bar * x
            x_bar = y_bar * neg
            x_bar = x_bar - neg_bar
        else:
            # line 11: elif x < 1:
            if cmp_1:
                # line 12: y = math.sin(x)
                x_bar = y_bar * math.cos(x)
            else:
                # line 14: y = x ** 3
                x_bar = y_bar * (3 * x ** 2)
        return (x_bar,)
    # line 15: return y * 2.0
    return mul, piecewise_pullback
