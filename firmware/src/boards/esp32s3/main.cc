// Entry point of the esp32s3 board: the Arduino core calls setup() once and
// loop() forever; both hand over to the portable app.
#include <Arduino.h>

#include "tinyxray/app.h"

void setup() { AppSetup(); }

void loop() { AppLoop(); }
