// Drains one of two hash maps that take turns behind an ARRAY_OF_MAPS slot
// (bpf/kevents.h): puts the idle map in the slot, then empties the one it
// took out. The map-in-map update returns only after an RCU grace period,
// when no program run can still hold the old map, so every count is read
// exactly once and no update races a delete. The same protocol as
// pkg/kflow/flow_count_reader.hpp, for any key and value layout.
//
// Borrows the fds (the owner keeps the maps alive). Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "pkg/common/error.hpp"

namespace netring::kevents {

class SwappedMaps {
 public:
  SwappedMaps(int slots_fd, int map0_fd, int map1_fd, std::uint32_t key_size, std::uint32_t value_size,
              std::uint32_t batch = 512);

  // Swaps the maps, calls f(key, value) for every entry of the one taken
  // out (deleting them as it reads) and returns how many there were.
  Result<std::size_t> drain(const std::function<void(const void* key, const void* value)>& f);

 private:
  int slots_fd_;
  int maps_[2];
  std::uint32_t key_size_, value_size_, batch_;
  std::vector<std::uint8_t> keys_, values_;
};

}  // namespace netring::kevents
