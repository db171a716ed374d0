// Fuzzes what a site agent reads from outside: the server's answers (an
// agent, assignments, report results), its own state file (which a crash or
// a person may have left half-written), and the text of Slurm's commands
// (squeue, sacct). The first byte picks the reader; the rest is its input.
// Each must return a value or an Error: a crash, a hang or a sanitizer
// report is a bug. What parses as a state file must write back to text that
// parses again.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/internal/protocol.h"
#include "agent/internal/state.h"
#include "exec/internal/slurm_text.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  namespace agent = straits::agent::internal;
  namespace exec = straits::exec::slurm_internal;
  switch (data[0] % 7) {
    case 0: (void)agent::parse_agent(text); break;
    case 1: (void)agent::parse_assignments(text); break;
    case 2: (void)agent::parse_report_results(text); break;
    case 3: {
      const auto steady = agent::SteadyTime{} + std::chrono::hours(1);
      const auto wall = straits::Instant::from_unix_microseconds(1'767'225'600'000'000);
      auto state = agent::state_from_text(text, steady, wall);
      if (state) {
        const std::string again = agent::state_to_text(*state, steady, wall);
        if (!agent::state_from_text(again, steady, wall)) std::abort();
      }
      break;
    }
    case 4: (void)exec::parse_squeue(text); break;
    case 5: (void)exec::parse_sacct(text); break;
    default:
      (void)exec::map_job_state(text);
      (void)exec::slurm_message(text);
      (void)exec::controller_unreachable(text);
      break;
  }
  return 0;
}
