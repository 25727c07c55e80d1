// cpuhp: the command-line entry point.
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "version") == 0) {
    std::printf("cpuhp %s\n", CPUHP_VERSION);
    return 0;
  }
  std::fprintf(stderr, "usage: cpuhp version\n");
  return 2;
}
