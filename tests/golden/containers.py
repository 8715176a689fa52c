# s2sad: vjp of containers (corpus.py:106) with respect to x, y
def containers_vjp(x, y):
    # line 107: t = (x, y, x * y)
    mul = x * y
    t = (x, y, mul)
    # line 108: lst = [x, 2.0 * y]
    mul_1 = 2.0 * y
    lst = [x, mul_1]
    # line 109: d = {"a": x, "b": y * y}
    mul_2 = y * y
    d = {'a': x, 'b': mul_2}
    # line 110: return t[2] + lst[1] * d["b"] + d["a"]
    lst_item = lst[1]
    d_item = d['b']
    mul_3 = lst_item * d_item
    add = mul + mul_3
    d_item_1 = d['a']
    add_1 = add + d_item_1
    def containers_pullback(add_1_bar):
        # line 110: return t[2] + lst[1] * d["b"] + d["a"]
        add_bar = unbroadcast(add_1_bar, add)
        d_item_1_bar = unbroadcast(add_1_bar, d_item_1)
        d_bar = getitem_adjoint(d_item_1_bar, d, 'a')
        mul_bar = unbroadcast(add_bar, mul)
        mul_3_bar = unbroadcast(add_bar, mul_3)
        lst_item_bar = unbroadcast(mul_3_bar * d_item, lst_item)
        d_item_bar = unbroadcast(mul_3_bar * lst_item, d_item)
        d_bar = add_bars(d_bar, getitem_adjoint(d_item_bar, d, 'b'))
        lst_bar = getitem_adjoint(lst_item_bar, lst, 1)
        # line 109: d = {"a": x, "b": y * y}
        x_bar = d_bar['a']
        mul_2_bar = d_bar['b']
        mul_4 = mul_2_bar * y
        y_bar = mul_4 + mul_4
        # line 108: lst = [x, 2.0 * y]
        mul_1_bar = lst_bar[1]
        y_bar = y_bar + mul_1_bar * 2.0
        # line 107: t = (x, y, x * y)
        x_bar = x_bar + unbroadcast(mul_bar * y, x)
        y_bar = y_bar + unbroadcast(mul_bar * x, y)
        return x_bar, y_bar
    # line 110: return t[2] + lst[1] * d["b"] + d["a"]
    return add_1, containers_pullback
