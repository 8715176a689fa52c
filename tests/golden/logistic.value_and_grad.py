# s2sad: value and gradient (forward pass and pullback in one function) of logistic (corpus.py:113) with respect to w
def logistic_value_and_grad(w, X, y):
    # line 114: z = X @ w
    z = X @ w
    # line 115: return np.mean(np.log(1.0 + np.exp(-y * z))) + 0.01 * np.sum(w**2)
    neg = -y
    mul = neg * z
    exp = np.exp(mul)
    add = 1.0 + exp
    mul_1 = 0.01 * np.sum(w ** 2)
    w_bar = 0.01 * (2.0 * w)
    mul_bar = 1.0 / np.size(mul) / add * exp
    z_bar = unbroadcast(mul_bar * neg, z)
    # line 114: z = X @ w
    w_bar = w_bar + matmul_rhs_adjoint(z_bar, X, w)
    return np.mean(np.log(add)) + mul_1, (w_bar,)
