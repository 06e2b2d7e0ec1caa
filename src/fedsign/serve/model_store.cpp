#include "fedsign/serve/model_store.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>
#include <vector>

#include "fedsign/core/check.h"
#include "fedsign/core/hash.h"

namespace fedsign::serve {
namespace fs = std::filesystem;

namespace {

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}


}  // namespace

ModelStore::ModelStore(fs::path source, std::string precision)
    : source_(std::move(source)), precision_(std::move(precision)) {
  const auto files = train::locate_model_files(source_);
  weights_file_ = files.weights;
  info_file_ = files.info;
  last_seen_ = stamps();  // before loading: a change during the load is seen by the next poll
  auto first = train::load_model_bundle(source_);
  current_ = make_served(std::move(first), 1);
  spdlog::info("serving {} (version 1, {}, checksum {})", weights_file_.string(),
               current_->predictor.int8() ? "int8" : train::describe(current_->predictor.mode()),
               current_->checksum);
}

ModelStore::~ModelStore() { stop(); }

std::shared_ptr<const ServedModel> ModelStore::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::pair<FileStamp, FileStamp> ModelStore::stamps() const {
  auto stamp = [](const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return FileStamp{};
    return FileStamp{static_cast<std::uint64_t>(st.st_ino), static_cast<std::uint64_t>(st.st_size),
                     static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                         st.st_mtim.tv_nsec};
  };
  return {stamp(weights_file_), stamp(info_file_)};
}

std::shared_ptr<const ServedModel> ModelStore::make_served(train::LoadedModel loaded,
                                                           std::uint64_t version) const {
  // The checksum is taken after loading: if the file was replaced in between, its stamps
  // differ from the ones recorded before the load and the next poll loads again.
  std::string checksum = file_checksum(loaded.weights_file);
  train::Predictor predictor(std::move(loaded), precision_);
  return std::make_shared<const ServedModel>(
      ServedModel{std::move(predictor), version, std::move(checksum), unix_seconds_now()});
}

bool ModelStore::poll() {
  std::lock_guard poll_lock(poll_mutex_);
  const auto now = stamps();
  if (now == last_seen_) return false;
  last_seen_ = now;  // a file that fails to load is not retried until it changes again
  if (now.first == FileStamp{}) {
    ++reload_failures_;
    spdlog::warn("model reload: {} is missing; still serving version {}", weights_file_.string(),
                 current()->version);
    return false;
  }
  try {
    auto next = make_served(train::load_model_bundle(source_), current()->version + 1);
    {
      std::lock_guard lock(mutex_);
      current_ = next;
    }
    ++reloads_;
    spdlog::info("model reload: version {} from {} (checksum {})", next->version,
                 weights_file_.string(), next->checksum);
    return true;
  } catch (const std::exception& e) {
    ++reload_failures_;
    spdlog::warn("model reload failed, still serving version {}: {}", current()->version, e.what());
    return false;
  }
}

void ModelStore::watch(std::chrono::milliseconds interval) {
  std::lock_guard lock(watch_mutex_);
  if (watcher_.joinable() || stopping_) return;
  watcher_ = std::thread([this, interval] {
    std::unique_lock lock(watch_mutex_);
    while (!watch_cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      poll();
      lock.lock();
    }
  });
}

void ModelStore::stop() {
  {
    std::lock_guard lock(watch_mutex_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

}  // namespace fedsign::serve
