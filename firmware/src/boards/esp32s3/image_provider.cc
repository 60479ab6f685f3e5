// image_provider.h for the Seeed XIAO ESP32S3 Sense: its OV2640 camera via
// the esp32-camera driver (bundled with arduino-esp32; with ESP-IDF use the
// espressif/esp32-camera component). Grayscale QVGA frames go to the core
// unchanged: padding to square, resizing and int8 scaling stay in core.
//
// Checked against espressif/esp32-camera driver/include/esp_camera.h at
// commit 4335c93e (camera_config_t with pin_sccb_*, fb_location, grab_mode)
// and the XIAO ESP32S3 Sense pin map of the Seeed wiki.
#include "tinyxray/image_provider.h"

#include "esp_camera.h"

namespace {

// XIAO ESP32S3 Sense camera connector.
constexpr int kPinPwdn = -1;
constexpr int kPinReset = -1;
constexpr int kPinXclk = 10;
constexpr int kPinSioD = 40;
constexpr int kPinSioC = 39;
constexpr int kPinD7 = 48;  // Y9
constexpr int kPinD6 = 11;  // Y8
constexpr int kPinD5 = 12;  // Y7
constexpr int kPinD4 = 14;  // Y6
constexpr int kPinD3 = 16;  // Y5
constexpr int kPinD2 = 18;  // Y4
constexpr int kPinD1 = 17;  // Y3
constexpr int kPinD0 = 15;  // Y2
constexpr int kPinVsync = 38;
constexpr int kPinHref = 47;
constexpr int kPinPclk = 13;

enum class State { kUntried, kReady, kFailed };
State g_state = State::kUntried;
camera_fb_t* g_frame = nullptr;  // held until the next capture

bool InitCamera() {
  if (g_state != State::kUntried) return g_state == State::kReady;
  camera_config_t config = {};
  config.pin_pwdn = kPinPwdn;
  config.pin_reset = kPinReset;
  config.pin_xclk = kPinXclk;
  config.pin_sccb_sda = kPinSioD;
  config.pin_sccb_scl = kPinSioC;
  config.pin_d7 = kPinD7;
  config.pin_d6 = kPinD6;
  config.pin_d5 = kPinD5;
  config.pin_d4 = kPinD4;
  config.pin_d3 = kPinD3;
  config.pin_d2 = kPinD2;
  config.pin_d1 = kPinD1;
  config.pin_d0 = kPinD0;
  config.pin_vsync = kPinVsync;
  config.pin_href = kPinHref;
  config.pin_pclk = kPinPclk;
  config.xclk_freq_hz = 20000000;
  config.ledc_timer = LEDC_TIMER_0;
  config.ledc_channel = LEDC_CHANNEL_0;
  config.pixel_format = PIXFORMAT_GRAYSCALE;
  config.frame_size = FRAMESIZE_QVGA;  // 320x240; core pads and resizes
  config.jpeg_quality = 12;            // unused for grayscale
  config.fb_count = 2;
  config.fb_location = CAMERA_FB_IN_PSRAM;
  config.grab_mode = CAMERA_GRAB_LATEST;  // a fresh frame, not a stale one
  g_state = esp_camera_init(&config) == ESP_OK ? State::kReady : State::kFailed;
  return g_state == State::kReady;
}

}  // namespace

bool HasCamera() { return InitCamera(); }

bool GetImage(const uint8_t** pixels, uint16_t* width, uint16_t* height) {
  if (!InitCamera()) return false;
  if (g_frame != nullptr) {
    esp_camera_fb_return(g_frame);
    g_frame = nullptr;
  }
  g_frame = esp_camera_fb_get();
  if (g_frame == nullptr || g_frame->format != PIXFORMAT_GRAYSCALE ||
      g_frame->len < g_frame->width * g_frame->height) {
    return false;
  }
  *pixels = g_frame->buf;
  *width = static_cast<uint16_t>(g_frame->width);
  *height = static_cast<uint16_t>(g_frame->height);
  return true;
}
