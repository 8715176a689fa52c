# s2sad: vjp of logistic (corpus.py:113) with respect to w
def logistic_vjp(w, X, y):
    # line 114: z = X @ w
    z = X @ w
    # line 115: return np.mean(np.log(1.0 + np.exp(-y * z))) + 0.01 * np.sum(w**2)
    neg = -y
    mul = neg * z
    exp = np.exp(mul)
    add = 1.0 + exp
    log = np.log(add)
    mean = np.mean(log)
    pow_1 = w ** 2
    sum_1 = np.sum(pow_1)
    mul_1 = 0.01 * sum_1
    add_1 = mean + mul_1
    def logistic_pullback(add_1_bar):
        # line 115: return np.mean(np.log(1.0 + np.exp(-y * z))) + 0.01 * np.sum(w**2)
        sum_1_bar = add_1_bar * 0.01
        pow_1_bar = np.broadcast_to(sum_1_bar, np.shape(w))
        w_bar = pow_1_bar * (2.0 * w)
        log_bar = np.broadcast_to(add_1_bar / np.size(mul), np.shape(mul))
        add_bar = log_bar / add
        mul_bar = add_bar * exp
        z_bar = unbroadcast(mul_bar * neg, z)
        # line 114: z = X @ w
        w_bar = w_bar + matmul_rhs_adjoint(z_bar, X, w)
        return (w_bar,)
    # line 115: return np.mean(np.log(1.0 + np.exp(-y * z))) + 0.01 * np.sum(w**2)
    return add_1, logistic_pullback
