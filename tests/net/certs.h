// Throwaway X.509 material for TLS tests, made at test time with the openssl CLI (no key is
// committed): a CA, and keys + certificates with a given common name signed by a CA.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/testing/gtsrb_fixture.h"

namespace fedsign::testing {

inline void sh(const std::string& command) {
  ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
}

// CA `ca`: dir/ca.key, dir/ca.pem.
inline void make_ca(const std::filesystem::path& dir, const std::string& ca) {
  sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -keyout " +
     (dir / (ca + ".key")).string() + " -out " + (dir / (ca + ".pem")).string() + " -subj /CN=" + ca);
}

// dir/name.key and dir/name.pem (CN=name) signed by CA `ca`, with `extensions` (openssl
// extfile lines, e.g. "extendedKeyUsage=clientAuth").
inline void make_cert(const std::filesystem::path& dir, const std::string& ca,
                      const std::string& name, const std::string& extensions) {
  const auto base = (dir / name).string();
  sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + base +
     ".key -out " + base + ".csr -subj /CN=" + name);
  write_text(base + ".ext", extensions + "\n");
  sh("openssl x509 -req -days 1 -in " + base + ".csr -CA " + (dir / (ca + ".pem")).string() +
     " -CAkey " + (dir / (ca + ".key")).string() + " -CAcreateserial -out " + base +
     ".pem -extfile " + base + ".ext");
}

}  // namespace fedsign::testing
