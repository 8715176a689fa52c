# s2sad: vjp of power_spectrum (complex_corpus.py:15) with respect to x
def power_spectrum_vjp(x):
    # line 16: return np.sum(np.abs(np.fft.rfft(x)) ** 2)
    rfft = np.fft.rfft(x)
    abs_1 = np.abs(rfft)
    pow_1 = abs_1 ** 2
    sum_1 = np.sum(pow_1)
    def power_spectrum_pullback(sum_1_bar):
        # line 16: return np.sum(np.abs(np.fft.rfft(x)) ** 2)
        pow_1_bar = np.broadcast_to(sum_1_bar, np.shape(rfft))
        abs_1_bar = pow_1_bar * (2.0 * abs_1)
        rfft_bar = abs_1_bar * (np.conj(rfft) / np.where(abs_1 == 0.0, 1.0, abs_1))
        x_bar = rfft_adjoint(rfft_bar, x, None, (-1,), None)
        return (x_bar,)
    # line 16: return np.sum(np.abs(np.fft.rfft(x)) ** 2)
    return sum_1, power_spectrum_pullback

# s2sad: jvp (forward mode) of power_spectrum (complex_corpus.py:15) with respect to x
def power_spectrum_jvp(x, *, x_dot):
    # line 16: return np.sum(np.abs(np.fft.rfft(x)) ** 2)
    rfft = np.fft.rfft(x)
    rfft_dot = np.fft.rfft(x_dot)
    abs_1 = np.abs(rfft)
    abs_1_dot = np.real(np.conj(rfft) / np.where(abs_1 == 0.0, 1.0, abs_1) * rfft_dot)
    pow_1 = abs_1 ** 2
    pow_1_dot = abs_1_dot * (2.0 * abs_1)
    sum_1 = np.sum(pow_1)
    sum_1_dot = np.sum(pow_1_dot)
    return sum_1, sum_1_dot
