# s2sad: jvp (forward mode) of rnn (cf_corpus.py:174) with respect to W, U
def rnn_jvp(W, U, xs, h0, *, W_dot, U_dot):
    # line 175: h = h0
    h = h0
    # line 176: for t in range(xs.shape[0]):
    shape = xs.shape
    item = shape[0]
    h_1 = h
    h_1_dot = zeros_like(h)
    for t in range(item):
        # line 177: h = np.tanh(W @ h + U @ xs[t])
        matmul = W @ h_1
        matmul_dot = W_dot @ h_1 + W @ h_1_dot
        xs_item = xs[t]
        matmul_1 = U @ xs_item
        matmul_1_dot = U_dot @ xs_item
        add = matmul + matmul_1
        add_dot = matmul_dot + matmul_1_dot
        h_2 = np.tanh(add)
        h_2_dot = add_dot * (1.0 - h_2 * h_2)
        # line 176: for t in range(xs.shape[0]):
        h_1 = h_2
        h_1_dot = h_2_dot
    h_3 = h_1
    h_3_dot = h_1_dot
    # line 178: return np.sum(h * h)
    mul = h_3 * h_3
    mul_1 = h_3_dot * h_3
    mul_dot = mul_1 + mul_1
    sum_1 = np.sum(mul)
    sum_1_dot = np.sum(mul_dot)
    return sum_1, sum_1_dot
