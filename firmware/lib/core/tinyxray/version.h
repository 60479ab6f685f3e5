#pragma once
// The firmware version (INFO firmware, boot banner); keep in step with
// pyproject.toml.
#define TINYXRAY_FIRMWARE_VERSION "0.1.0"
