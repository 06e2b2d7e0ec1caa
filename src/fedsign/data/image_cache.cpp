// The decoded-image cache: a checksum of everything the pixels depend on, and a single binary
// file per checksum that loads with one sequential read.
//
// File layout (little-endian, as written by x86-64/ARM64):
//   char[8]  "FSCACHE1"       u32 version (1)   u32 reserved (0)
//   u64 checksum   u64 N   u32 H   u32 W   u64 skipped
//   i32 labels[N]   i64 tracks[N]   u32 path_length[N]   path bytes (concatenated)
//   u8  pixels[N*H*W*3]
//   u64 XXH3 hash of every byte above (detects truncation and corruption)
#include <sys/stat.h>

#include <array>
#include <cstring>
#include <fstream>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/core/hash.h"
#include "fedsign/data/image_loader.h"

namespace fedsign::data {
namespace fs = std::filesystem;

namespace {

constexpr std::array<char, 8> kMagic = {'F', 'S', 'C', 'A', 'C', 'H', 'E', '1'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint32_t kMaxDimension = 4096;

struct Header {
  std::array<char, 8> magic = kMagic;
  std::uint32_t version = kVersion;
  std::uint32_t reserved = 0;
  std::uint64_t checksum = 0;
  std::uint64_t count = 0;
  std::uint32_t height = 0;
  std::uint32_t width = 0;
  std::uint64_t skipped = 0;
};
static_assert(sizeof(Header) == 48, "cache header must have no padding");

void hash_string(Hasher& h, const std::string& s) {
  h.update_value(static_cast<std::uint64_t>(s.size()));
  h.update(s);
}

// Writes bytes and folds them into the payload hash.
class HashingWriter {
 public:
  explicit HashingWriter(std::ostream& out) : out_(out) {}
  void write(const void* data, std::size_t size) {
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    hasher_.update(data, size);
  }
  std::uint64_t digest() const { return hasher_.digest(); }

 private:
  std::ostream& out_;
  Hasher hasher_;
};

class HashingReader {
 public:
  explicit HashingReader(std::istream& in) : in_(in) {}
  bool read(void* data, std::size_t size) {
    if (!in_.read(static_cast<char*>(data), static_cast<std::streamsize>(size))) return false;
    hasher_.update(data, size);
    return true;
  }
  std::uint64_t digest() const { return hasher_.digest(); }

 private:
  std::istream& in_;
  Hasher hasher_;
};

bool read_cache_unchecked(const fs::path& file, std::uint64_t checksum, ImageSet* set,
                          std::size_t* skipped) {
  std::error_code ec;
  const std::uintmax_t file_size = fs::file_size(file, ec);
  if (ec) return false;
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  HashingReader reader(in);
  Header header;
  if (file_size < sizeof(Header) || !reader.read(&header, sizeof(header))) return false;
  if (header.magic != kMagic || header.version != kVersion || header.checksum != checksum) {
    return false;
  }
  if (header.height == 0 || header.width == 0 || header.height > kMaxDimension ||
      header.width > kMaxDimension) {
    return false;
  }
  // Check sizes against the file before allocating anything N-sized.
  const std::uint64_t n = header.count;
  const std::uint64_t image_bytes = std::uint64_t{header.height} * header.width * 3;
  const std::uint64_t per_image = sizeof(std::int32_t) + sizeof(std::int64_t) +
                                  sizeof(std::uint32_t) + image_bytes;
  const std::uint64_t fixed = sizeof(Header) + sizeof(std::uint64_t);
  if (n > (file_size - sizeof(Header)) / per_image || fixed + n * per_image > file_size) {
    return false;
  }

  ImageSet result;
  result.height = static_cast<int>(header.height);
  result.width = static_cast<int>(header.width);
  result.labels.resize(n);
  result.tracks.resize(n);
  std::vector<std::uint32_t> lengths(n);
  if (!reader.read(result.labels.data(), n * sizeof(std::int32_t)) ||
      !reader.read(result.tracks.data(), n * sizeof(std::int64_t)) ||
      !reader.read(lengths.data(), n * sizeof(std::uint32_t))) {
    return false;
  }
  std::uint64_t path_bytes = 0;
  for (std::uint32_t length : lengths) path_bytes += length;
  if (fixed + n * per_image + path_bytes != file_size) return false;
  std::string all_paths(path_bytes, '\0');
  if (!reader.read(all_paths.data(), path_bytes)) return false;
  result.pixels.resize(n * image_bytes);
  if (!reader.read(result.pixels.data(), result.pixels.size())) return false;
  std::uint64_t stored_hash = 0;
  if (!in.read(reinterpret_cast<char*>(&stored_hash), sizeof(stored_hash))) return false;
  if (stored_hash != reader.digest()) return false;

  result.paths.reserve(n);
  std::size_t offset = 0;
  for (std::uint32_t length : lengths) {
    result.paths.emplace_back(all_paths, offset, length);
    offset += length;
  }
  *set = std::move(result);
  if (skipped) *skipped = static_cast<std::size_t>(header.skipped);
  return true;
}

}  // namespace

std::uint64_t source_checksum(const DatasetSource& source, const LoadOptions& options) {
  Hasher h;
  h.update(std::string_view("fedsign-image-cache-v1"));
  h.update_value(static_cast<std::int32_t>(source.layout));
  h.update_value(static_cast<std::int32_t>(source.subset));
  h.update_value(static_cast<std::uint64_t>(source.records.size()));
  for (const SampleRecord& r : source.records) {
    // Paths relative to the root only: moving the whole dataset keeps its cache valid.
    hash_string(h, r.relative_path);
    hash_string(h, r.annotation_file);
    for (int v : {r.width, r.height, r.roi.x1, r.roi.y1, r.roi.x2, r.roi.y2, r.class_id, r.line}) {
      h.update_value(static_cast<std::int32_t>(v));
    }
    h.update_value(r.track);
    struct ::stat st {};
    std::int64_t size = -1, seconds = 0, nanoseconds = 0;  // -1: missing file
    if (::stat(r.image.c_str(), &st) == 0) {
      size = st.st_size;
      seconds = st.st_mtim.tv_sec;
      nanoseconds = st.st_mtim.tv_nsec;
    }
    h.update_value(size);
    h.update_value(seconds);
    h.update_value(nanoseconds);
  }
  h.update_value(static_cast<std::int32_t>(options.size));
  h.update_value(static_cast<std::int32_t>(options.crop_roi));
  h.update_value(static_cast<std::int32_t>(options.contrast));
  return h.digest();
}

fs::path cache_path(const fs::path& cache_dir, std::uint64_t checksum) {
  return cache_dir / fmt::format("gtsrb-{:016x}.fsc", checksum);
}

void write_cache(const fs::path& file, const ImageSet& set, std::uint64_t checksum,
                 std::size_t skipped) {
  const std::size_t n = set.size();
  FEDSIGN_CHECK(set.tracks.size() == n && set.paths.size() == n &&
                    set.pixels.size() == n * set.image_bytes(),
                "{}: inconsistent image set (labels {}, tracks {}, paths {}, pixel bytes {})",
                file.string(), n, set.tracks.size(), set.paths.size(), set.pixels.size());
  Header header;
  header.checksum = checksum;
  header.count = n;
  header.height = static_cast<std::uint32_t>(set.height);
  header.width = static_cast<std::uint32_t>(set.width);
  header.skipped = skipped;
  std::vector<std::uint32_t> lengths(n);
  std::string all_paths;
  for (std::size_t i = 0; i < n; ++i) {
    lengths[i] = static_cast<std::uint32_t>(set.paths[i].size());
    all_paths += set.paths[i];
  }
  write_stream_atomically(file, [&](std::ostream& out) {
    HashingWriter writer(out);
    writer.write(&header, sizeof(header));
    writer.write(set.labels.data(), n * sizeof(std::int32_t));
    writer.write(set.tracks.data(), n * sizeof(std::int64_t));
    writer.write(lengths.data(), n * sizeof(std::uint32_t));
    writer.write(all_paths.data(), all_paths.size());
    writer.write(set.pixels.data(), set.pixels.size());
    const std::uint64_t digest = writer.digest();
    out.write(reinterpret_cast<const char*>(&digest), sizeof(digest));
  });
}

bool read_cache(const fs::path& file, std::uint64_t checksum, ImageSet* set, std::size_t* skipped) {
  try {
    return read_cache_unchecked(file, checksum, set, skipped);
  } catch (const std::exception&) {
    return false;  // e.g. bad_alloc on an absurd (corrupt) header
  }
}

}  // namespace fedsign::data
