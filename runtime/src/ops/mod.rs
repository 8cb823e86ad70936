//! Layers and losses: forward and backward of each op.

pub mod activation;
pub mod causal;
pub mod combine;
pub mod conv;
pub mod dropout;
pub mod linear;
pub mod loss;
pub mod norm;
pub mod pool;
pub mod recurrent;
