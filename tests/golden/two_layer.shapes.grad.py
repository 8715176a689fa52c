# s2sad: gradient (forward pass and pullback in one function) of two_layer (corpus.py:118) with respect to W1, b1, W2
def two_layer_grad(W1, b1, W2, x):
    # line 119: h = np.tanh(x @ W1 + b1)
    h = np.tanh(x @ W1 + b1)
    # line 120: out = h @ W2
    out = h @ W2
    # line 121: return np.sum(out**2) / 2.0
    out_bar = 1.0 / 2.0 * (2.0 * out)
    # line 120: out = h @ W2
    h_bar = out_bar @ W2.T
    W2_bar = h.T @ out_bar
    # line 119: h = np.tanh(x @ W1 + b1)
    add_bar = h_bar * (1.0 - h * h)
    b1_bar = add_bar.sum(axis=0)
    W1_bar = x.T @ add_bar
    return W1_bar, b1_bar, W2_bar
