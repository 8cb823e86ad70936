pub use monograd_macros::network;
