//! What kind of optimizer this is and with which hyper-parameters: what a checkpoint records so
//! that it restores only into the same optimizer with the same configuration.

use super::{Adadelta, Adagrad, Adam, AdamW, RmsProp, Sgd};
use crate::Scalar;

/// The identity of an optimizer's configuration, for checkpoints.
///
/// The learning rate is not part of it: it is state a schedule changes, and a checkpoint
/// restores it. Flags are reported as `0.0` / `1.0`.
pub trait Describe {
    /// The optimizer's name, PyTorch's class name (`"Adam"`, `"SGD"`, ...).
    fn kind(&self) -> &'static str;

    /// Calls `visit(name, value)` for each hyper-parameter but the learning rate, in a fixed
    /// order.
    fn hyper_parameters(&self, visit: &mut dyn FnMut(&'static str, f64));
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

impl<T: Scalar, const N: usize> Describe for Sgd<T, N> {
    fn kind(&self) -> &'static str {
        "SGD"
    }
    fn hyper_parameters(&self, visit: &mut dyn FnMut(&'static str, f64)) {
        let c = self.config();
        visit("momentum", c.momentum);
        visit("dampening", c.dampening);
        visit("weight_decay", c.weight_decay);
        visit("nesterov", flag(c.nesterov));
    }
}

impl<T: Scalar, const N: usize> Describe for Adam<T, N> {
    fn kind(&self) -> &'static str {
        "Adam"
    }
    fn hyper_parameters(&self, visit: &mut dyn FnMut(&'static str, f64)) {
        let c = self.config();
        visit("beta1", c.betas.0);
        visit("beta2", c.betas.1);
        visit("eps", c.eps);
        visit("weight_decay", c.weight_decay);
        visit("amsgrad", flag(c.amsgrad));
        visit("decoupled_weight_decay", flag(c.decoupled_weight_decay));
    }
}

impl<T: Scalar, const N: usize> Describe for AdamW<T, N> {
    fn kind(&self) -> &'static str {
        "AdamW"
    }
    fn hyper_parameters(&self, visit: &mut dyn FnMut(&'static str, f64)) {
        let c = self.config();
        visit("beta1", c.betas.0);
        visit("beta2", c.betas.1);
        visit("eps", c.eps);
        visit("weight_decay", c.weight_decay);
        visit("amsgrad", flag(c.amsgrad));
    }
}

impl<T: Scalar, const N: usize> Describe for Adagrad<T, N> {
    fn kind(&self) -> &'static str {
        "Adagrad"
    }
    fn hyper_parameters(&self, visit: &mut dyn FnMut(&'static str, f64)) {
        let c = self.config();
        visit("lr_decay", c.lr_decay);
        visit("weight_decay", c.weight_decay);
        visit("initial_accumulator_value", c.initial_accumulator_value);
        visit("eps", c.eps);
    }
}

impl<T: Scalar, const N: usize> Describe for RmsProp<T, N> {
    fn kind(&self) -> &'static str {
        "RMSprop"
    }
    fn hyper_parameters(&self, visit: &mut dyn FnMut(&'static str, f64)) {
        let c = self.config();
        visit("alpha", c.alpha);
        visit("eps", c.eps);
        visit("weight_decay", c.weight_decay);
        visit("momentum", c.momentum);
        visit("centered", flag(c.centered));
    }
}

impl<T: Scalar, const N: usize> Describe for Adadelta<T, N> {
    fn kind(&self) -> &'static str {
        "Adadelta"
    }
    fn hyper_parameters(&self, visit: &mut dyn FnMut(&'static str, f64)) {
        let c = self.config();
        visit("rho", c.rho);
        visit("eps", c.eps);
        visit("weight_decay", c.weight_decay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{AdamConfig, SgdConfig};

    fn listing(o: &dyn Describe) -> ([(&'static str, f64); 8], usize) {
        let mut out = [("", 0.0); 8];
        let mut n = 0;
        o.hyper_parameters(&mut |name, value| {
            out[n] = (name, value);
            n += 1;
        });
        (out, n)
    }

    #[test]
    fn kinds_and_hyper_parameters_exclude_the_learning_rate() {
        let adam = Adam::<f32, 4>::new(AdamConfig {
            amsgrad: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(adam.kind(), "Adam");
        let (list, n) = listing(&adam);
        assert_eq!(
            &list[..n],
            &[
                ("beta1", 0.9),
                ("beta2", 0.999),
                ("eps", 1e-8),
                ("weight_decay", 0.0),
                ("amsgrad", 1.0),
                ("decoupled_weight_decay", 0.0)
            ]
        );
        let sgd = Sgd::<f64, 2>::new(SgdConfig {
            lr: 0.5,
            momentum: 0.9,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(sgd.kind(), "SGD");
        let (list, n) = listing(&sgd);
        assert_eq!(list[0], ("momentum", 0.9));
        assert!(list[..n].iter().all(|(name, _)| *name != "lr"));
    }
}
