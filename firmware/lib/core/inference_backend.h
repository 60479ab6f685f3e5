#pragma once
// One inference engine behind free functions, implemented once per backend
// library: firmware/lib/backend_aot (the generated C model) or
// firmware/lib/backend_tflm (TensorFlow Lite Micro). Exactly one is linked.
#include <cstddef>
#include <cstdint>

// Prepares the engine (TFLM: allocates tensors). Returns false on failure;
// then no other function but BackendName() may be called.
bool BackendInit();

// The int8 input tensor (model input height * width * channels bytes).
int8_t* BackendInput();

// Runs the model on the input tensor. Returns false on failure.
bool BackendInvoke();

// The int8 output tensor (one score per class), valid after BackendInvoke().
const int8_t* BackendOutput();

// "aot" or "tflm" (INFO backend).
const char* BackendName();

// Arena bytes the engine uses (INFO arena_bytes).
size_t BackendArenaBytes();
