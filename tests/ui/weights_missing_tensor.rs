// trybuild compiles this in its project under `target/tests/trybuild/<crate>/`, whose manifest
// directory the weights path is relative to: `../../../../` is the repository root.
monograd::network! {
    struct Tiny {
        input x: [3];
        h = linear(x, 2);
        a = relu(h);
        o = linear(a, 1);
        weights = "../../../../tests/ui/tiny.safetensors";
        output o;
    }
}

fn main() {}
