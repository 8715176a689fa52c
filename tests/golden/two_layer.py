# s2sad: vjp of two_layer (corpus.py:118) with respect to W1, b1, W2
def two_layer_vjp(W1, b1, W2, x):
    # line 119: h = np.tanh(x @ W1 + b1)
    matmul = x @ W1
    add = matmul + b1
    h = np.tanh(add)
    # line 120: out = h @ W2
    out = h @ W2
    # line 121: return np.sum(out**2) / 2.0
    pow_1 = out ** 2
    sum_1 = np.sum(pow_1)
    div = sum_1 / 2.0
    def two_layer_pullback(div_bar):
        # line 121: return np.sum(out**2) / 2.0
        sum_1_bar = div_bar / 2.0
        pow_1_bar = np.broadcast_to(sum_1_bar, np.shape(out))
        out_bar = pow_1_bar * (2.0 * out)
        # line 120: out = h @ W2
        h_bar = matmul_lhs_adjoint(out_bar, h, W2)
        W2_bar = matmul_rhs_adjoint(out_bar, h, W2)
        # line 119: h = np.tanh(x @ W1 + b1)
        add_bar = h_bar * (1.0 - h * h)
        matmul_bar = unbroadcast(add_bar, matmul)
        b1_bar = unbroadcast(add_bar, b1)
        W1_bar = matmul_rhs_adjoint(matmul_bar, x, W1)
        return W1_bar, b1_bar, W2_bar
    # line 121: return np.sum(out**2) / 2.0
    return div, two_layer_pullback
