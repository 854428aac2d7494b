#include <cstdio>
int main() {
  std::puts("stompede " STOMPEDE_VERSION);
}
