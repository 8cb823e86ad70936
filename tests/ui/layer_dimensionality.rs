// 1-D layers take sequences `[channels, length]`, 2-D layers images `[channels, height, width]`.
monograd::network! {
    pub struct Net {
        input image: [1, 8, 8];
        input_seq = reshape(image, [4, 16]);
        c1 = conv1d(image, 4, kernel = 3);
        c2 = conv2d(input_seq, 4, kernel = 3);
        p1 = max_pool1d(image, 2);
        p2 = avg_pool2d(input_seq, 2);
        v = flatten(image);
        p3 = avg_pool1d(v, 2);
        a = flatten(c1);
        b = flatten(c2);
        c = flatten(p1);
        d = flatten(p2);
        e = flatten(p3);
        ab = concat(a, b);
        cd = concat(c, d);
        abcd = concat(ab, cd);
        out = concat(abcd, e);
        loss = mse(out);
    }
}

fn main() {}
