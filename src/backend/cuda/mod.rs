//! (stub) CUDA backend: cudarc or the emulated device.
