# s2sad: vjp of filtered (complex_corpus.py:19) with respect to x
def filtered_vjp(x):
    # line 20: return np.sum(np.real(np.fft.ifft(np.fft.fft(x) * H8)) ** 2)
    fft = np.fft.fft(x)
    mul = fft * H8
    ifft = np.fft.ifft(mul)
    real = np.real(ifft)
    pow_1 = real ** 2
    sum_1 = np.sum(pow_1)
    def filtered_pullback(sum_1_bar):
        # line 20: return np.sum(np.real(np.fft.ifft(np.fft.fft(x) * H8)) ** 2)
        pow_1_bar = np.broadcast_to(sum_1_bar, np.shape(ifft))
        real_bar = pow_1_bar * (2.0 * real)
        mul_bar = fft_adjoint(real_bar, mul, (-1,), None, True)
        fft_bar = unbroadcast(mul_bar * H8, fft)
        x_bar = np.real(fft_adjoint(fft_bar, x, (-1,), None, False))
        return (x_bar,)
    # line 20: return np.sum(np.real(np.fft.ifft(np.fft.fft(x) * H8)) ** 2)
    return sum_1, filtered_pullback

# s2sad: jvp (forward mode) of filtered (complex_corpus.py:19) with respect to x
def filtered_jvp(x, *, x_dot):
    # line 20: return np.sum(np.real(np.fft.ifft(np.fft.fft(x) * H8)) ** 2)
    fft = np.fft.fft(x)
    fft_dot = np.fft.fft(x_dot)
    mul = fft * H8
    mul_dot = broadcast_like(fft_dot * H8, mul)
    ifft = np.fft.ifft(mul)
    ifft_dot = np.fft.ifft(mul_dot)
    real = np.real(ifft)
    real_dot = np.real(ifft_dot)
    pow_1 = real ** 2
    pow_1_dot = real_dot * (2.0 * real)
    sum_1 = np.sum(pow_1)
    sum_1_dot = np.sum(pow_1_dot)
    return sum_1, sum_1_dot
