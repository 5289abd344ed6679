// A minimal PNG encoder for the mock image endpoint: one solid colour, 8-bit RGB, the pixels in
// stored (uncompressed) deflate blocks. Enough for a client to decode a real image without
// adding zlib as a dependency.
//
// Internal to src/mock/. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::mock {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

// The bytes of a `width` x `height` PNG filled with `colour`. Sizes up to 4096 x 4096.
std::string solid_png(std::uint32_t width, std::uint32_t height, Rgb colour);

// The checksums PNG needs: CRC-32 (ISO 3309, as in zlib) and Adler-32 (RFC 1950).
std::uint32_t crc32(std::string_view bytes, std::uint32_t crc = 0);
std::uint32_t adler32(std::string_view bytes);

}  // namespace sluice::mock
