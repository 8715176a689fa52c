# s2sad: vjp of while_loop (cf_corpus.py:127) with respect to x
def while_loop_vjp(x):
    # line 128: i = 0
    i = 0
    # line 129: y = x
    y = x
    # line 130: while i < 5:
    tape = []
    i_1 = i
    y_1 = y
    while i_1 < 5:
        # line 131: y = math.sin(y) + x
        sin = math.sin(y_1)
        y_2 = sin + x
        # line 132: i = i + 1
        i_2 = i_1 + 1
        # line 130: while i < 5:
        tape.append((sin, y_1))
        i_1 = i_2
        y_1 = y_2
    y_3 = y_1
    def while_loop_pullback(y_3_bar):
        # line 130: while i < 5:
        y_1_bar = y_3_bar
        x_bar = zeros_like(x)
        for sin, y_1 in reversed(tape):
            y_2_bar = y_1_bar
            # line 131: y = math.sin(y) + x
            sin_bar = unbroadcast(y_2_bar, sin)
            x_bar = x_bar + y_2_bar
            y_1_bar = sin_bar * math.cos(y_1)
        # line 129: y = x
        x_bar = x_bar + y_1_bar
        return (x_bar,)
    # line 133: return y
    return y_3, while_loop_pullback
