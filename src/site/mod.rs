//! Site mode: many doors sharing one register through a broker.

pub mod ids;
