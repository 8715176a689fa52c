# s2sad: jvp (forward mode) of while_loop (cf_corpus.py:127) with respect to x
def while_loop_jvp(x, *, x_dot):
    # line 128: i = 0
    i = 0
    # line 129: y = x
    y = x
    # line 130: while i < 5:
    i_1 = i
    y_1 = y
    y_1_dot = x_dot
    while i_1 < 5:
        # line 131: y = math.sin(y) + x
        sin = math.sin(y_1)
        sin_dot = y_1_dot * math.cos(y_1)
        y_2 = sin + x
        y_2_dot = sin_dot + x_dot
        # line 132: i = i + 1
        i_2 = i_1 + 1
        # line 130: while i < 5:
        i_1 = i_2
        y_1 = y_2
        y_1_dot = y_2_dot
    y_3 = y_1
    y_3_dot = y_1_dot
    # line 133: return y
    return y_3, y_3_dot
