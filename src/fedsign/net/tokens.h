// Per-client tokens: who may join. A text file, one client a line:
//     <name> <token>             # allowed
//     <name> <token> revoked     # refused (PERMISSION_DENIED), also mid-run
// '#' starts a comment. The file is re-read whenever its identity changes (modification time,
// size or inode), so adding or revoking a client needs no restart. A DELETED file revokes
// everyone (fail closed); a file that no longer parses keeps the previous list and logs why (an
// operator's typo should not drop the whole federation).
// Token checks take the same work whether the name exists or not, and compare SHA-256 digests
// with CRYPTO_memcmp, so neither the timing nor the message tells which names exist.
// Thread-safe (one mutex).
#pragma once

#include <atomic>
#include <cstdint>
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
  // For HTTP bearer tokens (`fedsign serve`): any listed token, whoever's; every entry is
  // compared. UNAUTHENTICATED for an unknown one (or a deleted file), PERMISSION_DENIED for a
  // revoked one.
  Status authenticate_bearer(const std::string& token);
  // PERMISSION_DENIED once `name` was revoked (or removed, or the file deleted) since it
  // registered.
  Status still_allowed(const std::string& name);
  // Constant-time token comparisons made so far (tests check that unknown names cost one too).
  int64_t comparisons() const { return comparisons_.load(); }

 private:
  struct Entry {
    std::string digest;  // SHA-256 of the token
    bool revoked = false;
  };
  struct FileIdentity {
    std::filesystem::file_time_type mtime{};
    uintmax_t size = 0;
    uint64_t inode = 0;
    bool exists = false;
    bool operator==(const FileIdentity&) const = default;
  };
  void reload_locked();

  std::filesystem::path file_;
  std::mutex mutex_;
  FileIdentity seen_;
  bool loaded_ = false;
  std::map<std::string, Entry> entries_;
  std::atomic<int64_t> comparisons_{0};
};

// Parses the tokens file format above; throws fedsign::Error naming the file and line.
std::map<std::string, std::pair<std::string, bool>> parse_tokens(const std::string& text,
                                                                 const std::string& file);

// Reads a secret (a token) from the first line of `file`, or else from the environment variable
// `env` (never from the command line, which every local user can read in the process list).
// Empty when neither is given. Throws fedsign::Error when `file` is given but unreadable.
std::string read_secret(const std::string& file, const char* env);

}  // namespace fedsign::net
