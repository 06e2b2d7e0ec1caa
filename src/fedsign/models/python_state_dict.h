// Reading a state dict that Python saved as `torch.save(module.state_dict(), path)`: an
// OrderedDict (with state_dict()'s `_metadata` attribute) in PyTorch's zip container - the form of
// torchvision's weight files and of most checkpoints found in the wild.
//
// LibTorch's unpickler reads plain dicts but turns `collections.OrderedDict(...)` into None (it
// only expects one as a tensor's ignored backward-hooks argument), lacks SETITEM (which Python
// writes for one-entry dicts: every inner dict of _metadata) and POP, and runs BUILD as a call.
// So this reader rewrites data.pkl before unpickling, following the unpickler's stack: every
// `OrderedDict()` becomes an empty dict, SETITEM becomes MARK-before-the-key plus SETITEMS, and
// the BUILD that would set `_metadata` is cut off together with its state (it only carries
// per-module format versions). Tensors are then read from the archive as torch::pickle_load
// reads them. Stateless; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace c10 {
struct IValue;
}

namespace fedsign::models {

// The pickle program `pickle` (protocol 0-3) rewritten as above; other opcodes are copied.
// Throws fedsign::Error on an opcode it does not support (protocol 4+, POP, INST/OBJ), a
// truncated program or an OrderedDict used other than as OrderedDict(). Returns the input
// unchanged if there is nothing to rewrite.
std::string rewrite_for_libtorch(const std::string& pickle);

// Unpickles the zip archive `bytes` (a torch.save file) with data.pkl rewritten as above.
// Throws (c10::Error, fedsign::Error) if `bytes` is not such an archive.
c10::IValue load_python_state_dict(const std::vector<char>& bytes);

}  // namespace fedsign::models
