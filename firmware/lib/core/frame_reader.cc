#include "tinyxray/frame_reader.h"

FrameReader::Event FrameReader::Feed(uint8_t byte) {
  if (byte != 0) {
    if (!in_frame_) decoder_.Reset();
    in_frame_ = true;
    if (!too_large_ && !decoder_.Feed(byte)) too_large_ = true;
    return Event::kNone;
  }
  // A delimiter ends the frame; the next byte starts a new one.
  const bool had_frame = in_frame_;
  const bool too_large = too_large_;
  in_frame_ = false;
  too_large_ = false;
  if (!had_frame) return Event::kNone;
  if (too_large) return Event::kTooLarge;
  return decoder_.Complete() ? Event::kFrame : Event::kBadFrame;
}
