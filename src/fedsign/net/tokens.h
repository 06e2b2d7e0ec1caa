// Per-client tokens: who may join. A text file, one client a line:
//     <name> <token>             # allowed
//     <name> <token> revoked     # refused (PERMISSION_DENIED), also mid-run
// '#' starts a comment. The file is re-read when its modification time changes, so adding or
// revoking a client needs no restart. Tokens are compared in constant time. Thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "fedsign/net/status.h"

namespace fedsign::net {

class TokenStore {
 public:
  // An empty path: no token check (only allowed together with mutual TLS).
  explicit TokenStore(std::filesystem::path file = {});
  bool enabled() const { return !file_.empty(); }
  // UNAUTHENTICATED for an unknown name or wrong token, PERMISSION_DENIED for a revoked one.
  Status authenticate(const std::string& name, const std::string& token);
  // PERMISSION_DENIED once `name` was revoked (or removed) since it registered.
  Status still_allowed(const std::string& name);

 private:
  struct Entry {
    std::string token;
    bool revoked = false;
  };
  void reload_locked();

  std::filesystem::path file_;
  std::mutex mutex_;
  std::filesystem::file_time_type mtime_{};
  std::map<std::string, Entry> entries_;
};

// Parses the tokens file format above; throws fedsign::Error naming the file and line.
std::map<std::string, std::pair<std::string, bool>> parse_tokens(const std::string& text,
                                                                 const std::string& file);

}  // namespace fedsign::net
