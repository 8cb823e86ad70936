// trybuild compiles this in its project under `target/tests/trybuild/<crate>/`, whose manifest
// directory the weights path is relative to: `../../../../` is the repository root.
// A Weight Norm layer whose `v` has an all-zero row: its weight cannot be folded at expansion.
monograd::network! {
    struct Tiny {
        input x: [3];
        h = linear(x, 2, weight_norm = true);
        weights = "../../../../tests/ui/tiny_wn_zero.safetensors";
        output h;
    }
}

fn main() {}
