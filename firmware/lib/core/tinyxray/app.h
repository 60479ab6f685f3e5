#pragma once
// The portable firmware loop. Boards call AppSetup() once and AppLoop()
// forever (Arduino's setup()/loop(), or a plain main()).

void AppSetup();
void AppLoop();
