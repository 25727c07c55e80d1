// Live migration of a direct-QEMU guest with hot-plugged vCPUs.
//
// OWNER: issue 5 (migration). This header is the contract the scenario
// runner's `migrate` step calls; extend it, keep these names.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vm/machine.h"

namespace cpuhp {

struct MigrationOptions {
  enum class Transport { kUnix, kTcp };
  Transport transport = Transport::kUnix;
  // migrate-set-parameters; unset leaves QEMU's default.
  std::optional<uint64_t> max_bandwidth;  // bytes/s
  std::optional<uint64_t> downtime_limit_ms;
  bool postcopy = false;
  // Issue migrate_cancel this long after starting; the source must keep running.
  std::optional<std::chrono::milliseconds> cancel_after;
  // Wrong on purpose: leave these CPU device ids out of the destination's -device list.
  std::vector<std::string> omit_cpu_devices;
  Clock::duration timeout = kMigrationTimeout;
};

struct MigrationResult {
  std::string status;  // "completed", "cancelled", "failed"
  Clock::duration wall_time{};
  std::optional<int64_t> total_time_ms;  // from query-migrate
  std::optional<int64_t> downtime_ms;
  nlohmann::json query_migrate;          // the last query-migrate reply
  std::vector<std::string> destination_args;  // the destination's command line
};

// The destination's spec, derived from the source's *current* state
// (query-hotpluggable-cpus), not from history: same machine, -smp and one
// -device per hot-plugged CPU with the same driver, id and props.
MachineSpec DestinationSpec(Machine& source, const std::string& destination_name,
                            const MigrationOptions& options);

// Migrates `source` to a new QEMU. On "completed" the destination is returned
// running with its agent synced and the source is shut down; on "cancelled"
// nullptr is returned and the source keeps running. Throws MigrationError
// (the source still running and usable where QEMU allows) on failure.
std::unique_ptr<Machine> Migrate(Machine& source, const std::filesystem::path& destination_artifacts,
                                 const MigrationOptions& options, MigrationResult* result);

class MigrationError : public Error {
 public:
  using Error::Error;
};

}  // namespace cpuhp
