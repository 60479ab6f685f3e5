#pragma once
// One inference engine behind free functions, implemented once per backend
// library: firmware/lib/backend_aot (the generated C model) or
// firmware/lib/backend_tflm (TensorFlow Lite Micro). Exactly one is linked.
#include <cstddef>
#include <cstdint>

// Prepares the engine (TFLM: allocates tensors) and checks it against
// model_metadata.h (input and output type, size, scale and zero point).
// Returns false on failure, with the reason in the device log; then no other
// function but BackendName() and BackendBitExact() may be called. Calling it
// again returns the first call's result without redoing the work.
bool BackendInit();

// The int8 input tensor (model input height * width * channels bytes).
int8_t* BackendInput();

// Runs the model on the input tensor. Returns false on failure.
bool BackendInvoke();

// The int8 output tensor (one score per class), valid after BackendInvoke().
const int8_t* BackendOutput();

// "aot" or "tflm" (INFO backend).
const char* BackendName();

// True if this build's scores are byte-identical with the host's int8 model
// (the TFLM reference kernels) on every input, as checked for its kernels
// (INFO bit_exact; the bench then expects identity on every frame).
bool BackendBitExact();

// Arena bytes the engine uses (INFO arena_bytes).
size_t BackendArenaBytes();
