// A reshape keeps the element count per sample; a `-1` must divide what the others leave.
monograd::network! {
    pub struct Net {
        input x: [1, 8, 8];
        wrong = reshape(x, [2, 8, 8]);
        ragged = reshape(x, [5, -1, 1]);
        twice = reshape(x, [-1, -1, 4]);
        pair = reshape(x, (4, 4, 4));
        a = flatten(wrong);
        b = flatten(ragged);
        c = flatten(twice);
        d = flatten(pair);
        ab = add(a, b);
        cd = add(c, d);
        out = add(ab, cd);
        loss = mse(out);
    }
}

fn main() {}
