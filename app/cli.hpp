#pragma once

// stompede's command line (run, check, serve, proxy) as a function. `stompede` itself is just
// `main() { return cli_main(argc, argv); }`; a program linking the `stompede_cli` library can
// register behaviours of its own first and then hand over (see docs/behaviours.md).

namespace stompede {

/// Parses the arguments and runs the verb; returns the process exit code.
int cli_main(int argc, char** argv);

} // namespace stompede
