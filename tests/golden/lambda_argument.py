# s2sad: vjp of area_closure (fn_corpus.py:76) with respect to k
def area_closure_vjp(k):
    # line 77: return integrate(lambda t: math.sin(k * t), 0.0, 1.0, 20)
    fn = lambda t: math.sin(k * t)
    integrate_1, integrate_pullback = integrate_vjp(fn, 0.0, 1.0, 20)
    def area_closure_pullback(integrate_1_bar):
        # line 77: return integrate(lambda t: math.sin(k * t), 0.0, 1.0, 20)
        (fn_bar,) = integrate_pullback(integrate_1_bar)
        k_bar = captured_adjoint(fn_bar, 'k', k)
        return (k_bar,)
    # line 77: return integrate(lambda t: math.sin(k * t), 0.0, 1.0, 20)
    return integrate_1, area_closure_pullback
