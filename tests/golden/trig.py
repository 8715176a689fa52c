# s2sad: reverse-mode derivative of trig (corpus.py:15) with respect to x
def trig_vjp(x):
    # line 16: return (4 + math.sin(x)) * math.cos(math.sin(x))
    sin = math.sin(x)
    add = 4 + sin
    sin_1 = math.sin(x)
    cos = math.cos(sin_1)
    mul = add * cos
    def trig_pullback(mul_bar):
        # line 16: return (4 + math.sin(x)) * math.cos(math.sin(x))
        add_bar = mul_bar * cos
        cos_bar = mul_bar * add
        sin_1_bar = -cos_bar * math.sin(sin_1)
        x_bar = sin_1_bar * math.cos(x)
        x_bar = x_bar + add_bar * math.cos(x)
        return (x_bar,)
    # line 16: return (4 + math.sin(x)) * math.cos(math.sin(x))
    return mul, trig_pullback
