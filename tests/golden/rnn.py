# s2sad: vjp of rnn (cf_corpus.py:174) with respect to W, U
def rnn_vjp(W, U, xs, h0):
    # line 175: h = h0
    h = h0
    # line 176: for t in range(xs.shape[0]):
    shape = xs.shape
    item = shape[0]
    tape = []
    h_1 = h
    for t in range(item):
        # line 177: h = np.tanh(W @ h + U @ xs[t])
        matmul = W @ h_1
        xs_item = xs[t]
        matmul_1 = U @ xs_item
        add = matmul + matmul_1
        h_2 = np.tanh(add)
        # line 176: for t in range(xs.shape[0]):
        tape.append((h_2, shape_like(matmul), shape_like(matmul_1), xs_item, h_1))
        h_1 = h_2
    h_3 = h_1
    # line 178: return np.sum(h * h)
    mul = h_3 * h_3
    sum_1 = np.sum(mul)
    def rnn_pullback(sum_1_bar):
        # line 178: return np.sum(h * h)
        mul_bar = np.broadcast_to(sum_1_bar, np.shape(h_3))
        mul_1 = mul_bar * h_3
        h_3_bar = mul_1 + mul_1
        # line 176: for t in range(xs.shape[0]):
        h_1_bar = h_3_bar
        W_bar = zeros_like(W)
        U_bar = zeros_like(U)
        for h_2, matmul, matmul_1, xs_item, h_1 in reversed(tape):
            h_2_bar = h_1_bar
            # line 177: h = np.tanh(W @ h + U @ xs[t])
            add_bar = h_2_bar * (1.0 - h_2 * h_2)
            matmul_bar = unbroadcast(add_bar, matmul)
            matmul_1_bar = unbroadcast(add_bar, matmul_1)
            U_bar = U_bar + matmul_lhs_adjoint(matmul_1_bar, U, xs_item)
            W_bar = W_bar + matmul_lhs_adjoint(matmul_bar, W, h_1)
            h_1_bar = matmul_rhs_adjoint(matmul_bar, W, h_1)
        return W_bar, U_bar
    # line 178: return np.sum(h * h)
    return sum_1, rnn_pullback
