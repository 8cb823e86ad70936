// trybuild compiles this in its project under `target/tests/trybuild/<crate>/`, whose manifest
// directory the weights path is relative to: `../../../../` is the repository root.
monograd::network! {
    struct Tiny {
        input x: [3];
        h = linear(x, 2);
        weights = "../../../../tests/ui/tiny_int.safetensors";
        output h;
    }
}

fn main() {}
