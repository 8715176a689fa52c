# s2sad: gradient (forward pass and pullback in one function) of dense (corpus.py:149) with respect to x, W, b
def dense_grad(x, W, b):
    # line 150: return np.sum(np.tanh(x @ W + b))
    tanh = np.tanh(x @ W + b)
    add_bar = 1.0 - tanh * tanh
    del tanh
    b_bar = add_bar.sum(axis=0)
    x_bar = add_bar @ W.T
    W_bar = x.T @ add_bar
    return x_bar, W_bar, b_bar
