// trybuild compiles this in its project under `target/tests/trybuild/<crate>/`, whose manifest
// directory the weights path is relative to: `../../../../` is the repository root.
monograd::network! {
    struct Tiny {
        input x: [3];
        h = linear(x, 4);
        weights = "../../../../tests/ui/tiny.safetensors";
        output h;
    }
}

fn main() {}
