#pragma once
// Forwarding header for firmware/test/test_kernels, which still includes the
// bare name; everything else includes "tinyxray/cost_counter.h", which no framework
// header can shadow. Remove once test_kernels includes that path.
#include "tinyxray/cost_counter.h"
