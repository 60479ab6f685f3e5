// image_provider.h for the host board, which has no camera: CAMERA replies
// UNSUPPORTED and INFO reports camera=0.
#include "tinyxray/image_provider.h"

bool HasCamera() { return false; }

bool GetImage(const uint8_t** /*pixels*/, uint16_t* /*width*/,
              uint16_t* /*height*/) {
  return false;
}
