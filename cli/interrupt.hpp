// Ctrl-C (SIGINT) and SIGTERM end a command at a clean point: the handler
// only sets a flag (with SA_RESTART, so a write in progress completes and
// no line is left half-printed); the command sees requested(), stops its
// streams and exits 0. SIGPIPE is ignored: a closed stdout (`| head`) shows
// up as a failed write instead.
#pragma once

namespace netring::cli {

void install_interrupt_handlers();
bool interrupt_requested();

}  // namespace netring::cli
