// The model `fedsign serve` answers with, and its hot reload. A ModelStore loads a model bundle
// (run directory or .pt file, see train/model_bundle.h) and, when watching, polls the weights
// file and model.json; when either changes (e.g. the FL server's model.pt, replaced atomically
// each round) it loads the new version beside the old one and swaps a shared pointer. Requests
// hold the ServedModel they started with, so a swap never fails or mixes versions; a file that
// does not load is logged and counted, and the previous version keeps serving.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fedsign/train/predictor.h"

namespace fedsign::serve {

struct ServedModel {
  train::Predictor predictor;
  std::uint64_t version = 0;  // 1 for the first load, +1 for each reload
  std::string checksum;       // 16 hex digits of the XXH3 hash of the weights file
  double loaded_at = 0;       // when loaded, in seconds since the Unix epoch
};

// What identifies one version of a file on disk (an atomic replace changes the inode).
struct FileStamp {
  std::uint64_t inode = 0, size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

class ModelStore {
 public:
  // Loads `source` now (throws fedsign::Error naming what is wrong). precision: auto|fp32|bf16|int8.
  ModelStore(std::filesystem::path source, std::string precision);
  ~ModelStore();
  ModelStore(const ModelStore&) = delete;
  ModelStore& operator=(const ModelStore&) = delete;

  std::shared_ptr<const ServedModel> current() const;

  // Loads the files again if they changed since the last attempt; true if a new version now
  // serves. Never throws.
  bool poll();
  // Calls poll() every `interval` on a thread of its own until stop() or destruction.
  void watch(std::chrono::milliseconds interval);
  void stop();

  std::uint64_t reloads() const { return reloads_; }
  std::uint64_t reload_failures() const { return reload_failures_; }

 private:
  std::pair<FileStamp, FileStamp> stamps() const;  // weights file, model description
  std::shared_ptr<const ServedModel> make_served(train::LoadedModel loaded,
                                                 std::uint64_t version) const;

  std::filesystem::path source_;
  std::string precision_;
  std::filesystem::path weights_file_, info_file_;
  mutable std::mutex mutex_;  // guards current_
  std::shared_ptr<const ServedModel> current_;
  std::mutex poll_mutex_;     // one poll at a time; guards last_seen_
  std::pair<FileStamp, FileStamp> last_seen_;
  std::atomic<std::uint64_t> reloads_{0}, reload_failures_{0};

  std::mutex watch_mutex_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace fedsign::serve
