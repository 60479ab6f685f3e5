#pragma once
// The board's camera. Implemented once per board in
// firmware/src/boards/<board>/image_provider.cc; boards without a camera
// return false from both functions.
#include <cstdint>

// True if the board has a camera that GetImage() can use (INFO camera).
bool HasCamera();

// Captures one 8-bit grayscale frame. On success *pixels points to
// *width x *height bytes, row-major, owned by the board and valid until the
// next call. Returns false if there is no camera or the capture failed.
bool GetImage(const uint8_t** pixels, uint16_t* width, uint16_t* height);
