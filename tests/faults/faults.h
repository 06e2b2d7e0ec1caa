// Shared set-up of the fault-injection suite (label `faults`): a tiny generated GTSRB-like
// folder, a tokens file, and `fedsign fl server` / `fedsign fl client` command lines tuned for
// speed (2 local steps per round) with short, stated timeouts, so that each case can assert that
// its round ends within the deadline that applies plus kMargin. Every process is killed when its
// test ends (tests/net/process.h).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/net/process.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::testing {

using namespace std::chrono_literals;

// Timeouts the suite's server runs with (seconds), and the slack allowed on top of a deadline
// for process start-up, training and evaluation on a loaded 2-core machine.
inline constexpr double kRoundDeadline = 40;
inline constexpr double kUploadTimeout = 4;
inline constexpr double kHeaderTimeout = 2;
inline constexpr double kClientTimeout = 3;
inline constexpr double kMargin = 15;

class FaultSuite : public ::testing::Test {
 protected:
  void SetUp() override {
    FixtureOptions fixture;
    fixture.num_classes = 5;
    fixture.tracks_per_class = 4;
    fixture.frames_per_track = 3;
    write_kaggle_dataset(tmp_ / "data", fixture);
    address_ = "127.0.0.1:" + std::to_string(free_port());
    write_text(tmp_ / "tokens.txt", "");
  }

  // Adds `name` to the tokens file and writes its token file (tokens never go on argv).
  void allow(const std::string& name) {
    std::ofstream(tmp_ / "tokens.txt", std::ios::app) << name << " tok-" << name << "\n";
    write_text(tmp_ / (name + ".token"), "tok-" + name + "\n");
  }

  std::vector<std::string> server_args(int rounds, int min_clients) const {
    auto s = [](double v) { return std::to_string(v); };
    return {"fl", "server", "--address", address_, "--rounds", std::to_string(rounds),
            "--min-available-clients", std::to_string(min_clients), "--tokens",
            (tmp_ / "tokens.txt").string(), "--out", (tmp_ / "run").string(),
            "--local-steps", "2", "--lr", "0.01", "--heartbeat-ms", "300",
            "--client-timeout", s(kClientTimeout), "--round-deadline", s(kRoundDeadline),
            "--upload-timeout", s(kUploadTimeout), "--header-timeout", s(kHeaderTimeout),
            "--start-timeout", "90", "--shutdown-grace", "4", "--log-level", "info"};
  }

  std::vector<std::string> client_args(const std::string& name, int index, int count,
                                       const std::string& fault = "") const {
    std::vector<std::string> args{
        "fl", "client", "--server", address_, "--name", name, "--token-file",
        (tmp_ / (name + ".token")).string(), "--data", (tmp_ / "data").string(), "--cache-dir",
        (tmp_ / "cache").string(), "--partition-index", std::to_string(index),
        "--clients", std::to_string(count), "--threads", "1", "--batch-size", "8",
        "--client-test-fraction", "0.25", "--backoff-initial", "0.2", "--backoff-max", "1",
        "--give-up-after", "60", "--poll-ms", "500", "--log-level", "info"};
    if (!fault.empty()) {
      args.push_back("--fault");
      args.push_back(fault);
    }
    return args;
  }

  std::unique_ptr<Process> start(const std::vector<std::string>& args, const std::string& log) {
    return std::make_unique<Process>(args, tmp_ / log);
  }

  std::vector<std::map<std::string, std::string>> metrics() const {
    return read_csv(tmp_ / "run" / "metrics.csv");
  }
  std::vector<std::map<std::string, std::string>> network() const {
    return read_csv(tmp_ / "run" / "network.csv");
  }

  TempDir tmp_;
  std::string address_;
};

inline std::vector<std::string> with(std::vector<std::string> args,
                                     const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

inline bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// VmRSS / VmHWM of a process in MiB (0 when it is gone).
inline double memory_mb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;
  }
  return 0;
}

}  // namespace fedsign::testing
