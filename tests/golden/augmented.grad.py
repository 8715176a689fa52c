# s2sad: gradient (forward pass and pullback in one function) of augmented (corpus.py:44) with respect to x, y
def augmented_grad(x, y):
    # line 45: z = x
    z = x
    # line 46: z += y
    rebound_input(z)
    z_1 = z + y
    # line 47: z *= x
    rebound_input(z_1)
    z_2 = z_1 * x
    # line 48: z -= 2.0 * y
    mul = 2.0 * y
    rebound_input(z_2)
    z_3 = z_2 - mul
    # line 49: z /= 1.5 + y * y
    add = 1.5 + y * y
    rebound_input(z_3)
    z_4 = z_3 / add
    # line 50: z **= 2
    rebound_input(z_4)
    z_5 = z_4 ** 2
    # line 51: return z
    z_5_bar = scalar_seed(z_5)
    # line 50: z **= 2
    z_4_bar = z_5_bar * (2.0 * z_4)
    # line 49: z /= 1.5 + y * y
    z_3_bar = unbroadcast(z_4_bar / add, z_3)
    mul_2 = unbroadcast(-z_4_bar * z_4 / add, y) * y
    y_bar = mul_2 + mul_2
    # line 48: z -= 2.0 * y
    z_2_bar = unbroadcast(z_3_bar, z_2)
    y_bar = y_bar - unbroadcast(z_3_bar, y) * 2.0
    # line 47: z *= x
    z_1_bar = unbroadcast(z_2_bar * x, z_1)
    x_bar = unbroadcast(z_2_bar * z_1, x)
    # line 46: z += y
    z_bar = unbroadcast(z_1_bar, x)
    y_bar = y_bar + unbroadcast(z_1_bar, y)
    # line 45: z = x
    x_bar = x_bar + z_bar
    return x_bar, y_bar
