// The stompede executable: the command line, with the built-in behaviours only.
#include "app/cli.hpp"

int main(int argc, char** argv) {
  return stompede::cli_main(argc, argv);
}
