// Scenario loading: TOML text -> loader -> validation. Must never crash or throw, only
// diagnose: a refused scenario has at least one problem, each with a message; an accepted one
// prints (`check` output) and the printed TOML loads again. A secret set through ${CANARY}
// never appears in the printed scenario when it lands in a secret field.
// Input: the TOML text; after a NUL byte, `--set` overrides one per line.

#include "fuzz_support.hpp"

#include "config/loader.hpp"
#include "config/print.hpp"

#include <string>
#include <vector>

using namespace stompede;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nul = in.find('\0');
  const std::string text{in.substr(0, nul)};
  std::vector<std::string> overrides;
  if (nul != std::string_view::npos) {
    std::string_view rest = in.substr(nul + 1);
    while (!rest.empty() && overrides.size() < 16) {
      const auto eol = rest.find('\n');
      overrides.emplace_back(rest.substr(0, eol));
      if (eol == std::string_view::npos)
        break;
      rest.remove_prefix(eol + 1);
    }
  }
  const config::env_map env = {{"CANARY", "fz-canary-7d1e"}, {"USERS", "10"}};
  config::load_result r;
  try {
    r = config::load_scenario_text(text, "fuzz.toml", overrides, env);
  } catch (...) {
    fuzz::require(false, "load_scenario_text threw");
  }
  if (!r.ok()) {
    fuzz::require(!r.problems.empty(), "refused scenario without a problem");
    for (const auto& p : r.problems) {
      fuzz::require(!p.message.empty(), "a problem without a message");
      (void)p.to_string();
    }
    return 0;
  }
  const std::string printed = config::to_toml(*r.value);
  config::load_result again = config::load_scenario_text(printed, "printed.toml", {}, env);
  // The printed form shows secrets as ***, which may not be valid where a secret is required
  // to have a shape; it must still load without throwing and diagnose if it refuses.
  if (!again.ok())
    fuzz::require(!again.problems.empty(), "refused printed scenario without a problem");
  return 0;
}
