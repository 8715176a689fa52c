# s2sad: gradient (forward pass and pullback in one function) of poly (corpus.py:10) with respect to x, y
def poly_grad(x, y):
    # line 11: z = x**2 * y + 1 / (x**2 + y**2 + 1)
    pow_1 = x ** 2
    mul = pow_1 * y
    add = pow_1 + y ** 2
    add_1 = add + 1
    div = 1 / add_1
    z = mul + div
    # line 12: return z
    z_bar = scalar_seed(z)
    # line 11: z = x**2 * y + 1 / (x**2 + y**2 + 1)
    mul_bar = unbroadcast(z_bar, mul)
    add_1_bar = -unbroadcast(z_bar, add) * div / add_1
    y_bar = unbroadcast(add_1_bar, y) * (2.0 * y)
    pow_1_bar = unbroadcast(add_1_bar, x) + unbroadcast(mul_bar * y, x)
    y_bar = y_bar + unbroadcast(mul_bar * pow_1, y)
    x_bar = pow_1_bar * (2.0 * x)
    return x_bar, y_bar
