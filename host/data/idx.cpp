// IDX parsing. zlib's gzread reads gzip and raw files alike, so one path serves both; the payload
// is read in bounded chunks, so a header that claims more than the file holds fails on the
// missing bytes, never on a huge allocation. A fast path goes first where it can: a regular file
// is read whole (an allocation the size of the file), and, where the build has libdeflate, a
// single-member gzip file is inflated in one call, a few times faster than zlib. Whatever the
// fast path does not accept as clean (errors included) goes to the zlib reader, so every
// malformed file still gets zlib's checks and messages.
#include "data/idx.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#if defined(BACKPROP_HAVE_LIBDEFLATE)
#include <libdeflate.h>
#endif

#include "base/error.hpp"
#include "base/regular_file.hpp"

namespace bp {
namespace {

constexpr uint8_t kUnsignedByte = 0x08;
constexpr size_t kMaxPayload = size_t{1} << 34;  // 16 GiB: far above any IDX data set

[[noreturn]] void fail(const std::string& name, const std::string& what) { throw Error(name + ": " + what); }

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Checks the 4-byte magic and returns the rank.
size_t check_magic(const uint8_t* magic, const std::string& name) {
  if (magic[0] != 0 || magic[1] != 0) fail(name, "not an IDX file (magic must start with two zero bytes)");
  if (magic[2] != kUnsignedByte) {
    fail(name, "IDX element type code " + std::to_string(magic[2]) + " is not supported (only unsigned bytes, code 8)");
  }
  if (magic[3] == 0 || magic[3] > 4) fail(name, "IDX rank " + std::to_string(magic[3]) + " is not between 1 and 4");
  return magic[3];
}

// Product of the dimensions, refusing zero sizes and anything past kMaxPayload.
size_t payload_size(const std::vector<uint32_t>& dims, const std::string& name) {
  size_t total = 1;
  for (uint32_t d : dims) {
    if (d == 0) fail(name, "IDX header has a zero dimension");
    if (total > kMaxPayload / d) fail(name, "IDX header claims more than 16 GiB of data");
    total *= d;
  }
  return total;
}

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};

// Reads exactly n bytes (or fewer at end of file); returns how many arrived.
size_t read_some(gzFile f, uint8_t* out, size_t n, const std::string& name) {
  size_t got = 0;
  while (got < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 26));
    const int r = gzread(f, out + got, chunk);
    if (r < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      fail(name, std::string("corrupt compressed data (") + msg + ")");
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

// Validates the header against the bytes that are really there, then strips it in place.
IdxArray parse(std::vector<uint8_t>&& bytes, const std::string& name) {
  const size_t size = bytes.size();
  if (size < 4) fail(name, "file too short for an IDX header");
  const size_t rank = check_magic(bytes.data(), name);
  if (size < 4 + 4 * rank) fail(name, "file too short for its IDX header");
  IdxArray out;
  for (size_t i = 0; i < rank; ++i) out.dims.push_back(be32(bytes.data() + 4 + 4 * i));
  const size_t header = 4 + 4 * rank, payload = payload_size(out.dims, name);
  if (size - header < payload) {
    fail(name, "truncated: header promises " + std::to_string(payload) + " data bytes, file has " +
                   std::to_string(size - header));
  }
  if (size - header > payload) {
    fail(name, "has " + std::to_string(size - header - payload) + " bytes past the data its header describes");
  }
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
  out.data = std::move(bytes);
  return out;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// The whole regular file at `path` (up to 4 GiB), or false.
bool read_regular_file(const std::string& path, std::vector<uint8_t>& out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || uint64_t(st.st_size) > (uint64_t{1} << 32))
    return false;
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return false;
  out.resize(size_t(st.st_size));
  if (std::fread(out.data(), 1, out.size(), f.get()) != out.size() || std::fgetc(f.get()) != EOF) return false;
  return true;
}

bool is_gzip(const std::vector<uint8_t>& bytes) { return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b; }

// Inflates a single-member gzip file in one call; false where that is not possible or not clean.
bool inflate_whole(const std::vector<uint8_t>& in, std::vector<uint8_t>& out) {
#if defined(BACKPROP_HAVE_LIBDEFLATE)
  if (in.size() < 18) return false;
  const uint8_t* t = in.data() + in.size() - 4;  // ISIZE: the inflated size mod 2^32
  const size_t isize = size_t(t[0]) | size_t(t[1]) << 8 | size_t(t[2]) << 16 | size_t(t[3]) << 24;
  if (isize / 1032 > in.size()) return false;  // beyond deflate's largest ratio: a lying trailer
  std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> d(libdeflate_alloc_decompressor(),
                                                                                 libdeflate_free_decompressor);
  if (!d) return false;
  out.resize(isize);
  size_t used = 0, got = 0;
  if (libdeflate_gzip_decompress_ex(d.get(), in.data(), in.size(), out.data(), out.size(), &used, &got) !=
          LIBDEFLATE_SUCCESS ||
      used != in.size() || got != isize)
    return false;  // corrupt, several members or trailing bytes: the zlib reader decides
  return true;
#else
  (void)in;
  (void)out;
  return false;
#endif
}

}  // namespace

IdxArray parse_idx(const uint8_t* bytes, size_t size, const std::string& name) {
  return parse(std::vector<uint8_t>(bytes, bytes + size), name);
}

IdxArray read_idx(const std::string& path) {
  require_regular_file(path, "an IDX file");
  if (std::vector<uint8_t> file; read_regular_file(path, file)) {
    if (!is_gzip(file)) return parse(std::move(file), path);
    if (std::vector<uint8_t> inflated; inflate_whole(file, inflated)) return parse(std::move(inflated), path);
  }
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) throw UsageError(path + ": cannot open: " + std::strerror(errno ? errno : EIO));
  gzbuffer(f.get(), 1 << 17);
  // The buffer grows only as data arrives (doubling from 64 KiB), so a lying header costs nothing
  // before parse() sees it, and small files stay cheap.
  std::vector<uint8_t> bytes;
  size_t chunk = size_t{1} << 16;
  for (;;) {
    if (bytes.size() > kMaxPayload + 64) fail(path, "file is larger than 16 GiB");
    const size_t have = bytes.size();
    bytes.resize(have + chunk);
    const size_t r = read_some(f.get(), bytes.data() + have, chunk, path);
    bytes.resize(have + r);
    if (r < chunk) break;
    chunk = std::min(chunk * 2, size_t{1} << 26);
  }
  return parse(std::move(bytes), path);
}

}  // namespace bp
