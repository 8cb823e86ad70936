// A data-parallel trainer of W workers with PB samples each trains on batches of exactly
// W * PB samples: a batch that W does not divide into shares of PB does not compile (`cargo
// build`; the assertion is evaluated when `train_step` is instantiated).
use monograd::prelude::*;
use monograd::runtime::parallel::Parallel;

monograd::network! {
    pub struct Net {
        input x: [4];
        logits = linear(x, 3);
        loss = softmax_cross_entropy(logits);
    }
}

fn main() {
    let mut net = Net::new(0);
    let mut sgd = Sgd::new(SgdConfig::default()).unwrap();
    // 3 workers of 2 samples: batches of 6, not 8.
    let mut trainer = Parallel::<Net, { Net::PARAMS }, 3, 2>::new().unwrap();
    let x = [[0.5f32; 4]; 8];
    let _ = trainer.train_step(&mut net, &x, &[0usize; 8], &mut sgd);
}
