#include "fedsign/fl/messages.h"

#include <fmt/format.h>

#include "fedsign/core/check.h"

namespace fedsign::fl {

namespace {
const ConfigValue* find(const Config& config, const std::string& key) {
  auto it = config.find(key);
  return it == config.end() ? nullptr : &it->second;
}
}  // namespace

double get_double(const Config& config, const std::string& key, double fallback) {
  const ConfigValue* v = find(config, key);
  if (!v) return fallback;
  if (const auto* d = std::get_if<double>(v)) return *d;
  if (const auto* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
  FEDSIGN_FAIL("config '{}': expected a number, got '{}'", key, to_string(*v));
}

int64_t get_int(const Config& config, const std::string& key, int64_t fallback) {
  const ConfigValue* v = find(config, key);
  if (!v) return fallback;
  if (const auto* i = std::get_if<int64_t>(v)) return *i;
  if (const auto* d = std::get_if<double>(v)) return static_cast<int64_t>(*d);
  FEDSIGN_FAIL("config '{}': expected an integer, got '{}'", key, to_string(*v));
}

bool get_bool(const Config& config, const std::string& key, bool fallback) {
  const ConfigValue* v = find(config, key);
  if (!v) return fallback;
  if (const auto* b = std::get_if<bool>(v)) return *b;
  if (const auto* i = std::get_if<int64_t>(v)) return *i != 0;
  FEDSIGN_FAIL("config '{}': expected a boolean, got '{}'", key, to_string(*v));
}

std::string get_string(const Config& config, const std::string& key, const std::string& fallback) {
  const ConfigValue* v = find(config, key);
  if (!v) return fallback;
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  FEDSIGN_FAIL("config '{}': expected a string, got '{}'", key, to_string(*v));
}

std::string to_string(const ConfigValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return v;
        else return fmt::format("{}", v);
      },
      value);
}

}  // namespace fedsign::fl
