//! What build.rs embedded: PTX or sources of `kernels/*.cu`, how they were built, and every
//! kernel's normalised C signature.

include!(concat!(env!("OUT_DIR"), "/kernels.rs"));
