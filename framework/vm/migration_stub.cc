// Placeholder until migration lands (issue 5): replace this file.
#include "vm/migration.h"

namespace cpuhp {
MachineSpec DestinationSpec(Machine& source, const std::string&, const MigrationOptions&) {
  return source.spec();
}
std::unique_ptr<Machine> Migrate(Machine&, const std::filesystem::path&, const MigrationOptions&,
                                 MigrationResult*) {
  throw MigrationError("migration not implemented yet");
}
}  // namespace cpuhp
