# s2sad: vjp of poly (corpus.py:10) with respect to x, y
def poly_vjp(x, y):
    # line 11: z = x**2 * y + 1 / (x**2 + y**2 + 1)
    pow_1 = x ** 2
    mul = pow_1 * y
    pow_3 = y ** 2
    add = pow_1 + pow_3
    add_1 = add + 1
    div = 1 / add_1
    z = mul + div
    def poly_pullback(z_bar):
        # line 11: z = x**2 * y + 1 / (x**2 + y**2 + 1)
        mul_bar = unbroadcast(z_bar, mul)
        div_bar = unbroadcast(z_bar, add)
        add_1_bar = -div_bar * div / add_1
        pow_1_bar = unbroadcast(add_1_bar, x)
        pow_3_bar = unbroadcast(add_1_bar, y)
        y_bar = pow_3_bar * (2.0 * y)
        pow_1_bar = pow_1_bar + unbroadcast(mul_bar * y, x)
        y_bar = y_bar + unbroadcast(mul_bar * pow_1, y)
        x_bar = pow_1_bar * (2.0 * x)
        return x_bar, y_bar
    # line 12: return z
    return z, poly_pullback
