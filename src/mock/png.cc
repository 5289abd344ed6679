#include "mock/png.h"

#include <algorithm>
#include <array>

namespace sluice::mock {

namespace {

constexpr std::string_view kSignature = "\x89PNG\r\n\x1a\n";
constexpr std::uint32_t kMaxSide = 4096;
// A stored deflate block holds at most 65535 bytes (its LEN field is 16 bits).
constexpr std::size_t kMaxStoredBlock = 65535;

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  return table;
}

constexpr auto kCrcTable = make_crc_table();

void put_u32_be(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(v >> shift);
}

void put_u16_le(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>(v >> 8);
}

// length, type, data, CRC of type and data.
void put_chunk(std::string& out, std::string_view type, std::string_view data) {
  put_u32_be(out, static_cast<std::uint32_t>(data.size()));
  std::size_t start = out.size();
  out.append(type);
  out.append(data);
  put_u32_be(out, crc32(std::string_view(out).substr(start)));
}

// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951, BTYPE 00).
std::string zlib_stored(std::string_view raw) {
  std::string out = "\x78\x01";  // deflate, 32K window, no dictionary, fastest; 0x7801 % 31 == 0
  std::size_t pos = 0;
  do {
    std::size_t len = std::min(raw.size() - pos, kMaxStoredBlock);
    bool last = pos + len == raw.size();
    out += static_cast<char>(last ? 1 : 0);  // BFINAL, BTYPE = 00; the rest of the byte pads
    put_u16_le(out, static_cast<std::uint16_t>(len));
    put_u16_le(out, static_cast<std::uint16_t>(~len));
    out.append(raw.substr(pos, len));
    pos += len;
  } while (pos < raw.size());
  put_u32_be(out, adler32(raw));
  return out;
}

}  // namespace

std::uint32_t crc32(std::string_view bytes, std::uint32_t crc) {
  crc = ~crc;
  for (unsigned char b : bytes) crc = kCrcTable[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::uint32_t adler32(std::string_view bytes) {
  constexpr std::uint32_t kMod = 65521;
  std::uint32_t a = 1, b = 0;
  for (unsigned char c : bytes) {
    a = (a + c) % kMod;
    b = (b + a) % kMod;
  }
  return (b << 16) | a;
}

std::string solid_png(std::uint32_t width, std::uint32_t height, Rgb colour) {
  width = std::clamp<std::uint32_t>(width, 1, kMaxSide);
  height = std::clamp<std::uint32_t>(height, 1, kMaxSide);

  std::string ihdr;
  put_u32_be(ihdr, width);
  put_u32_be(ihdr, height);
  ihdr += '\x08';  // bit depth
  ihdr += '\x02';  // colour type: truecolour (RGB)
  ihdr += '\x00';  // compression: deflate
  ihdr += '\x00';  // filter method 0
  ihdr += '\x00';  // no interlace

  std::string row(1, '\x00');  // filter type None
  for (std::uint32_t x = 0; x < width; ++x) {
    row += static_cast<char>(colour.r);
    row += static_cast<char>(colour.g);
    row += static_cast<char>(colour.b);
  }
  std::string raw;
  raw.reserve(row.size() * height);
  for (std::uint32_t y = 0; y < height; ++y) raw += row;

  std::string png(kSignature);
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", zlib_stored(raw));
  put_chunk(png, "IEND", "");
  return png;
}

}  // namespace sluice::mock
