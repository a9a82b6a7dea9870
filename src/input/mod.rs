//! What goes in: corpus text read into words and encoded as vocabulary ids, and the built-in corpus.

pub mod cache;
mod cache_write;
pub mod corpus;
pub mod identity;
pub mod pass;
pub mod read;
pub mod sink;
pub mod source;
pub mod spill;
pub mod synthetic;
pub mod tokenize;
pub mod vocab;
