# s2sad: vjp of trig (corpus.py:15) with respect to x
def trig_vjp(x):
    # line 16: return (4 + math.sin(x)) * math.cos(math.sin(x))
    sin = math.sin(x)
    add = 4 + sin
    cos = math.cos(sin)
    mul = add * cos
    def trig_pullback(mul_bar):
        # line 16: return (4 + math.sin(x)) * math.cos(math.sin(x))
        add_bar = mul_bar * cos
        cos_bar = mul_bar * add
        sin_bar = -cos_bar * math.sin(sin)
        sin_bar = sin_bar + add_bar
        x_bar = sin_bar * math.cos(x)
        return (x_bar,)
    # line 16: return (4 + math.sin(x)) * math.cos(math.sin(x))
    return mul, trig_pullback
