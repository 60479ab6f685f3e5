#pragma once
// Forwarding header for firmware/test/test_kernels, which still includes the
// bare name; everything else includes "tinyxray/board_info.h", which no framework
// header can shadow. Remove once test_kernels includes that path.
#include "tinyxray/board_info.h"
