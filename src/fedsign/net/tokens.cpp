#include "fedsign/net/tokens.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fedsign/core/check.h"

namespace fedsign::net {

namespace {
std::string sha256(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

// Same-length digests: CRYPTO_memcmp takes the same time wherever they differ.
bool digests_equal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
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
    FEDSIGN_CHECK(flag.empty() || flag == "revoked", "{}:{}: unknown flag '{}'", file, line_no,
                  printable(flag));
    FEDSIGN_CHECK(!(fields >> extra), "{}:{}: too many fields", file, line_no);
    out[name] = {token, flag == "revoked"};
  }
  return out;
}

std::string read_secret(const std::string& file, const char* env) {
  if (!file.empty()) {
    std::ifstream in(file);
    std::string line;
    FEDSIGN_CHECK(in.good() && std::getline(in, line), "cannot read a token from {}", file);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
  }
  const char* value = env ? std::getenv(env) : nullptr;
  return value ? std::string(value) : std::string();
}

TokenStore::TokenStore(std::filesystem::path file) : file_(std::move(file)) {
  if (!enabled()) return;
  std::lock_guard lock(mutex_);
  reload_locked();
  FEDSIGN_CHECK(seen_.exists, "cannot read tokens file {}", file_.string());
}

void TokenStore::reload_locked() {
  FileIdentity now;
  struct stat st {};
  if (::stat(file_.c_str(), &st) == 0) {
    std::error_code ec;
    now.mtime = std::filesystem::last_write_time(file_, ec);
    now.size = static_cast<uintmax_t>(st.st_size);
    now.inode = static_cast<uint64_t>(st.st_ino);
    now.exists = true;
  }
  if (loaded_ && now == seen_) return;
  if (!now.exists) {
    if (!loaded_ || seen_.exists) {
      spdlog::warn("tokens file {} is gone: every client is refused until it is back",
                   file_.string());
    }
    entries_.clear();
    seen_ = now;
    loaded_ = true;
    return;
  }
  std::ifstream in(file_);
  std::stringstream text;
  text << in.rdbuf();
  std::map<std::string, Entry> entries;
  try {
    for (auto& [name, value] : parse_tokens(text.str(), file_.string())) {
      entries[name] = {sha256(value.first), value.second};
    }
  } catch (const fedsign::Error& e) {
    seen_ = now;  // report a broken file once, not on every call
    FEDSIGN_CHECK(loaded_, "{}", e.what());
    spdlog::error("tokens: {} (keeping the previous list)", e.what());
    return;
  }
  if (loaded_) spdlog::info("tokens file {} reloaded: {} entries", file_.string(), entries.size());
  entries_ = std::move(entries);
  seen_ = now;
  loaded_ = true;
}

Status TokenStore::authenticate(const std::string& name, const std::string& token) {
  if (!enabled()) return Status::Ok();
  // Hashing and comparing happen for every request, known name or not: an unknown name costs
  // the same as a wrong token, and both get the same answer.
  static const std::string kAbsent = sha256("fedsign: no such client");
  const std::string presented = sha256(token);
  std::lock_guard lock(mutex_);
  reload_locked();
  auto it = entries_.find(name);
  const bool known = it != entries_.end();
  const bool match = digests_equal(known ? it->second.digest : kAbsent, presented);
  ++comparisons_;
  if (!known || !match) {
    return {Code::kUnauthenticated,
            fmt::format("unknown client '{}' or wrong token", printable(name))};
  }
  if (it->second.revoked) {
    return {Code::kPermissionDenied, fmt::format("client '{}' is revoked", printable(name))};
  }
  return Status::Ok();
}

Status TokenStore::authenticate_bearer(const std::string& token) {
  if (!enabled()) return Status::Ok();
  const std::string presented = sha256(token);
  std::lock_guard lock(mutex_);
  reload_locked();
  // Every entry's digest is compared, so the time taken tells neither whether nor which one
  // matched.
  const Entry* match = nullptr;
  for (const auto& [name, entry] : entries_) {
    if (digests_equal(entry.digest, presented)) match = &entry;
    ++comparisons_;
  }
  if (match == nullptr) return {Code::kUnauthenticated, "missing or unknown bearer token"};
  if (match->revoked) return {Code::kPermissionDenied, "bearer token is revoked"};
  return Status::Ok();
}

Status TokenStore::still_allowed(const std::string& name) {
  if (!enabled()) return Status::Ok();
  std::lock_guard lock(mutex_);
  reload_locked();
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.revoked) {
    return {Code::kPermissionDenied, fmt::format("client '{}' is revoked", printable(name))};
  }
  return Status::Ok();
}

}  // namespace fedsign::net
