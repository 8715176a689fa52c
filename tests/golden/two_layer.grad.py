# s2sad: gradient (forward pass and pullback in one function) of two_layer (corpus.py:118) with respect to W1, b1, W2
def two_layer_grad(W1, b1, W2, x):
    # line 119: h = np.tanh(x @ W1 + b1)
    matmul = x @ W1
    h = np.tanh(matmul + b1)
    # line 120: out = h @ W2
    out = h @ W2
    # line 121: return np.sum(out**2) / 2.0
    out_bar = 1.0 / 2.0 * (2.0 * out)
    # line 120: out = h @ W2
    h_bar = matmul_lhs_adjoint(out_bar, h, W2)
    W2_bar = matmul_rhs_adjoint(out_bar, h, W2)
    # line 119: h = np.tanh(x @ W1 + b1)
    add_bar = h_bar * (1.0 - h * h)
    b1_bar = unbroadcast(add_bar, b1)
    W1_bar = matmul_rhs_adjoint(unbroadcast(add_bar, matmul), x, W1)
    return W1_bar, b1_bar, W2_bar
