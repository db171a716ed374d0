// libFuzzer target: the trace readers (sim/trace.h). The first byte picks
// the format, the rest is the file. Whatever the bytes, a reader returns
// jobs, skips or counts bad rows, or fails with an error; every job it
// returns has a finite arrival, a run time > 0 and GPUs > 0, and it never
// counts more jobs than rows.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "sim/trace.h"

namespace {

namespace fs = std::filesystem;
using straits::sim::TraceFormat;

const fs::path& input_file() {
  static const fs::path file =
      fs::temp_directory_path() / ("straits-trace-fuzz-" + std::to_string(::getpid()) + ".csv");
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  constexpr TraceFormat kFormats[] = {TraceFormat::kAlibabaOpenb, TraceFormat::kAlibabaPai,
                                      TraceFormat::kGavel, TraceFormat::kHelios,
                                      TraceFormat::kAcme};
  const TraceFormat format = kFormats[data[0] % 5];
  {
    std::ofstream out(input_file(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  straits::sim::TraceReadOptions options;
  options.gavel_throughputs = STRAITS_FUZZ_GAVEL_TABLE;
  options.strict = (data[0] / 5) % 2 == 1;
  auto reader = straits::sim::TraceReader::open(input_file(), format, options);
  if (!reader) return 0;
  straits::sim::TraceJob job;
  std::size_t jobs = 0;
  while (reader->next(job)) {
    ++jobs;
    if (!std::isfinite(job.submit_s) || !(job.duration_s > 0) || !(job.gpus > 0) ||
        !std::isfinite(job.duration_s)) {
      __builtin_trap();
    }
  }
  const auto& stats = reader->stats();
  if (jobs != stats.jobs || stats.jobs + stats.skipped + stats.bad_rows != stats.rows) {
    __builtin_trap();
  }
  return 0;
}
