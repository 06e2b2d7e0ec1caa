#include "fedsign/models/python_state_dict.h"

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/unpickler.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "fedsign/core/check.h"

namespace fedsign::models {

namespace {

// Little-endian unsigned integer of `bytes` bytes at `p`.
uint64_t read_le(const std::string& s, std::size_t p, int bytes) {
  FEDSIGN_CHECK(p + static_cast<std::size_t>(bytes) <= s.size(), "pickle truncated at byte {}", p);
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[p + i]);
  return v;
}

// Offset just past the newline that ends the text argument starting at `p`.
std::size_t after_line(const std::string& s, std::size_t p) {
  const std::size_t nl = s.find('\n', p);
  FEDSIGN_CHECK(nl != std::string::npos, "pickle truncated at byte {}", p);
  return nl + 1;
}

// One opcode of the input: its code, where it starts and where its argument ends.
struct Opcode {
  unsigned char code = 0;
  std::size_t at = 0, end = 0;
};

// Parses the opcode at `p` (argument lengths of pickle protocols 0-3).
Opcode next_opcode(const std::string& s, std::size_t p) {
  Opcode op;
  op.at = p;
  op.code = static_cast<unsigned char>(s[p++]);
  switch (op.code) {
    case '(': case ')': case '}': case ']': case 't': case 'R': case 'b': case 's': case 'u':
    case 'a': case 'e': case '0': case '1': case '2': case 'N': case 'Q': case 'l': case 'd':
    case 'o': case '.': case 0x81: case 0x85: case 0x86: case 0x87: case 0x88: case 0x89:
      break;
    case 0x80: case 'K': case 'q': case 'h': case 0x82: p += 1; break;
    case 'M': case 0x83: p += 2; break;
    case 'J': case 'r': case 'j': case 0x84: p += 4; break;
    case 'G': p += 8; break;
    case 0x8a: p += 1 + read_le(s, p, 1); break;                        // LONG1
    case 0x8b: case 'X': case 'T': case 'B': p += 4 + read_le(s, p, 4); break;
    case 'U': case 'C': case 0x8c: p += 1 + read_le(s, p, 1); break;  // SHORT_BIN*
    case 0x8d: case 0x8e: p += 8 + read_le(s, p, 8); break;            // BINUNICODE8, BINBYTES8
    case 'I': case 'L': case 'F': case 'S': case 'V': case 'P': case 'p': case 'g':
      p = after_line(s, p);
      break;
    case 'c': case 'i':  // GLOBAL, INST: "module\nname\n"
      p = after_line(s, after_line(s, p));
      break;
    default:
      FEDSIGN_FAIL("pickle opcode 0x{:02x} at byte {} is not supported (protocol 4+?)", op.code,
                   op.at);
  }
  FEDSIGN_CHECK(p <= s.size(), "pickle truncated at byte {}", op.at);
  op.end = p;
  return op;
}

// The memo slot a PUT/GET family opcode names.
uint64_t memo_slot(const std::string& s, const Opcode& op) {
  switch (op.code) {
    case 'q': case 'h': return read_le(s, op.at + 1, 1);
    case 'r': case 'j': return read_le(s, op.at + 1, 4);
    default: return std::stoull(s.substr(op.at + 1, op.end - op.at - 2));  // PUT, GET: text
  }
}

}  // namespace

std::string rewrite_for_libtorch(const std::string& pickle) {
  // The unpickler's stack is simulated with the start offset in `out` of every item (and mark),
  // so that SETITEM can get its MARK inserted before the key and a dropped BUILD state can be
  // cut off the output.
  struct Item {
    std::size_t start = 0;
    bool mark = false;
  };
  std::string out;
  out.reserve(pickle.size() + 64);
  std::vector<Item> stack;
  std::vector<std::pair<std::size_t, uint64_t>> puts;  // (offset in out, slot) of memo writes
  std::set<uint64_t> class_slots;    // memo slots that held collections.OrderedDict
  std::set<uint64_t> dropped_slots;  // memo slots written inside a dropped BUILD state
  bool class_pending = false;        // the OrderedDict class is next to be called (not emitted)
  bool saw_ordered_dict = false;
  bool changed = false;

  auto pop_items = [&](std::size_t n, std::size_t at) {
    FEDSIGN_CHECK(stack.size() >= n, "pickle stack underflow at byte {}", at);
    std::size_t start = out.size();
    for (std::size_t i = 0; i < n; ++i) {
      FEDSIGN_CHECK(!stack.back().mark, "pickle: unexpected MARK at byte {}", at);
      start = stack.back().start;
      stack.pop_back();
    }
    return start;
  };
  auto pop_to_mark = [&](std::size_t at) {
    while (!stack.empty() && !stack.back().mark) stack.pop_back();
    FEDSIGN_CHECK(!stack.empty(), "pickle: no MARK for the opcode at byte {}", at);
    const std::size_t start = stack.back().start;
    stack.pop_back();
    return start;
  };

  for (std::size_t p = 0; p < pickle.size();) {
    const Opcode op = next_opcode(pickle, p);
    p = op.end;
    const std::size_t here = out.size();
    const bool is_put = op.code == 'q' || op.code == 'r' || op.code == 'p';
    const bool is_get = op.code == 'h' || op.code == 'j' || op.code == 'g';
    if (is_get) {
      const uint64_t slot = memo_slot(pickle, op);
      FEDSIGN_CHECK(!dropped_slots.count(slot), "pickle: memo slot {} of a dropped object used at "
                    "byte {}", slot, op.at);
      if (class_slots.count(slot)) {
        class_pending = true;
        changed = true;
        continue;
      }
    }
    if (op.code == 'c' && pickle.compare(op.at, op.end - op.at, "ccollections\nOrderedDict\n") == 0) {
      class_pending = saw_ordered_dict = changed = true;
      continue;
    }
    if (class_pending) {
      // The class may be memoized, then must be called with no arguments: OrderedDict().
      if (is_put) {
        class_slots.insert(memo_slot(pickle, op));
        continue;
      }
      FEDSIGN_CHECK(op.code == ')' && p < pickle.size() && pickle[p] == 'R',
                    "pickle: unsupported use of collections.OrderedDict at byte {}", op.at);
      ++p;  // the REDUCE
      out += '}';
      stack.push_back({here, false});
      class_pending = false;
      continue;
    }
    switch (op.code) {
      case 's': {  // SETITEM: dict key value -> MARK inserted before key, then SETITEMS
        FEDSIGN_CHECK(stack.size() >= 3 && !stack[stack.size() - 2].mark,
                      "pickle: SETITEM without a key at byte {}", op.at);
        const std::size_t key = stack[stack.size() - 2].start;
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(key), '(');
        for (auto& [offset, slot] : puts) offset += offset >= key ? 1 : 0;
        pop_items(2, op.at);
        out += 'u';
        changed = true;
        continue;
      }
      case 'b':  // BUILD
        if (saw_ordered_dict) {  // OrderedDict attributes (_metadata): drop the state
          const std::size_t state = pop_items(1, op.at);
          out.resize(state);
          for (auto it = puts.begin(); it != puts.end();) {
            if (it->first >= state) {
              dropped_slots.insert(it->second);
              it = puts.erase(it);
            } else {
              ++it;
            }
          }
          continue;
        }
        pop_items(1, op.at);
        break;
      case '0': case '1': case '2': case 'o': case 'i':
        FEDSIGN_FAIL("pickle opcode '{}' at byte {} is not supported by LibTorch",
                     static_cast<char>(op.code), op.at);
      case '(':
        stack.push_back({here, true});
        break;
      case 't': case 'l': case 'd':  // TUPLE, LIST, DICT
        stack.push_back({pop_to_mark(op.at), false});
        break;
      case 'u': case 'e':  // SETITEMS, APPENDS: into the object below the mark
        pop_to_mark(op.at);
        break;
      case 'a':  // APPEND
        pop_items(1, op.at);
        break;
      case 0x85: case 'Q':  // TUPLE1, BINPERSID
        stack.push_back({pop_items(1, op.at), false});
        break;
      case 0x86: case 'R': case 0x81:  // TUPLE2, REDUCE, NEWOBJ
        stack.push_back({pop_items(2, op.at), false});
        break;
      case 0x87:  // TUPLE3
        stack.push_back({pop_items(3, op.at), false});
        break;
      case 0x80: case '.':  // PROTO, STOP
        break;
      default:
        if (is_put) {
          puts.emplace_back(here, memo_slot(pickle, op));
        } else {
          stack.push_back({here, false});  // every other opcode pushes one value
        }
    }
    out.append(pickle, op.at, op.end - op.at);
  }
  return changed ? out : pickle;
}

c10::IValue load_python_state_dict(const std::vector<char>& bytes) {
  caffe2::serialize::PyTorchStreamReader archive(
      std::make_shared<caffe2::serialize::MemoryReadAdapter>(bytes.data(), bytes.size()));
  auto [pickle_data, pickle_size] = archive.getRecord("data.pkl");
  const std::string pickle =
      rewrite_for_libtorch(std::string(static_cast<const char*>(pickle_data.get()), pickle_size));
  std::size_t offset = 0;
  auto read = [&](char* buffer, std::size_t n) -> std::size_t {
    const std::size_t count = std::min(n, pickle.size() - offset);
    std::memcpy(buffer, pickle.data() + offset, count);
    offset += count;
    return count;
  };
  auto read_record = [&](const std::string& name) {
    return std::get<0>(archive.getRecord("data/" + name));
  };
  torch::jit::Unpickler unpickler(read, nullptr, nullptr, read_record, c10::nullopt);
  unpickler.set_version(archive.version());
  return unpickler.parse_ivalue();
}

}  // namespace fedsign::models
