#include "actors/user_fault.hpp"

#include <algorithm>

namespace stompede {

bool in_cohort(const user_fault_order& o, std::uint32_t index, std::int64_t room,
               int behaviour) noexcept {
  if (index < o.index_from || index >= o.index_to)
    return false;
  if (o.behaviour >= 0 && behaviour != o.behaviour)
    return false;
  if (!o.rooms.empty() && std::find(o.rooms.begin(), o.rooms.end(), room) == o.rooms.end())
    return false;
  if (o.fraction >= 1.0)
    return true;
  // splitmix64 of (seed, fault, index): the same users for the same seed and fault.
  std::uint64_t z = o.seed + 0x9E3779B97F4A7C15ull * (1 + o.fault_id) + index;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53 < o.fraction;
}

} // namespace stompede
