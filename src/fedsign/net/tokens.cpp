#include "fedsign/net/tokens.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "fedsign/core/check.h"

namespace fedsign::net {

namespace {
bool constant_time_equal(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ (i < b.size() ? b[i] : 0);
  return diff == 0 && a.size() == b.size();
}
}  // namespace

std::map<std::string, std::pair<std::string, bool>> parse_tokens(const std::string& text,
                                                                 const std::string& file) {
  std::map<std::string, std::pair<std::string, bool>> out;
  std::istringstream in(text);
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string name, token, flag, extra;
    if (!(fields >> name)) continue;
    FEDSIGN_CHECK(static_cast<bool>(fields >> token), "{}:{}: expected '<name> <token> [revoked]'",
                  file, line_no);
    fields >> flag;
    FEDSIGN_CHECK(flag.empty() || flag == "revoked", "{}:{}: unknown flag '{}'", file, line_no, flag);
    FEDSIGN_CHECK(!(fields >> extra), "{}:{}: too many fields", file, line_no);
    out[name] = {token, flag == "revoked"};
  }
  return out;
}

TokenStore::TokenStore(std::filesystem::path file) : file_(std::move(file)) {
  if (!enabled()) return;
  std::lock_guard lock(mutex_);
  reload_locked();
}

void TokenStore::reload_locked() {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(file_, ec);
  FEDSIGN_CHECK(!ec, "cannot read tokens file {}: {}", file_.string(), ec.message());
  if (mtime == mtime_ && !entries_.empty()) return;
  std::ifstream in(file_);
  FEDSIGN_CHECK(in.good(), "cannot open tokens file {}", file_.string());
  std::stringstream text;
  text << in.rdbuf();
  std::map<std::string, Entry> entries;
  for (auto& [name, value] : parse_tokens(text.str(), file_.string())) {
    entries[name] = {value.first, value.second};
  }
  entries_ = std::move(entries);
  mtime_ = mtime;
}

Status TokenStore::authenticate(const std::string& name, const std::string& token) {
  if (!enabled()) return Status::Ok();
  std::lock_guard lock(mutex_);
  try {
    reload_locked();
  } catch (const std::exception& e) {
    spdlog::warn("tokens: {} (keeping the previous list)", e.what());
  }
  auto it = entries_.find(name);
  if (it == entries_.end() || !constant_time_equal(it->second.token, token)) {
    return {Code::kUnauthenticated, fmt::format("unknown client '{}' or wrong token", name)};
  }
  if (it->second.revoked) return {Code::kPermissionDenied, fmt::format("client '{}' is revoked", name)};
  return Status::Ok();
}

Status TokenStore::still_allowed(const std::string& name) {
  if (!enabled()) return Status::Ok();
  std::lock_guard lock(mutex_);
  try {
    reload_locked();
  } catch (const std::exception&) {
  }
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.revoked) {
    return {Code::kPermissionDenied, fmt::format("client '{}' is revoked", name)};
  }
  return Status::Ok();
}

}  // namespace fedsign::net
