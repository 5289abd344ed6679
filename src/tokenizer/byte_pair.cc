#include "tokenizer/byte_pair.h"

#include <algorithm>
#include <functional>
#include <memory>

namespace sluice::tokenizer {
namespace {

constexpr std::uint32_t kNone = RankTable::kNone;

// tiktoken's algorithm. parts[i].start is where part i begins; parts[i].rank is the rank of
// part i merged with part i + 1 (kNone when that is not a token). Calls emit(begin, end) for each
// token in order. `parts` has room for piece.size() + 1 entries.
struct Part {
  std::uint32_t start;
  std::uint32_t rank;
};

template <class Emit>
void merge_by_scan(const RankTable& ranks, std::string_view piece, Part* parts, Emit&& emit) {
  const std::size_t n = piece.size();
  std::size_t m = n + 1;  // parts, including the end marker
  std::uint32_t min_rank = kNone;
  std::size_t min_i = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const std::uint32_t r = ranks.find(piece.substr(i, 2));
    parts[i] = Part{static_cast<std::uint32_t>(i), r};
    if (r < min_rank) {
      min_rank = r;
      min_i = i;
    }
  }
  parts[n - 1] = Part{static_cast<std::uint32_t>(n - 1), kNone};
  parts[n] = Part{static_cast<std::uint32_t>(n), kNone};
  // The rank of parts i, i + 1 and i + 2 together: what part i pairs with once i + 1 is merged
  // into it.
  auto rank_after_merge = [&](std::size_t i) {
    if (i + 3 >= m) return kNone;
    return ranks.find(piece.substr(parts[i].start, parts[i + 3].start - parts[i].start));
  };
  while (min_rank != kNone) {
    const std::size_t i = min_i;
    if (i > 0) parts[i - 1].rank = rank_after_merge(i - 1);
    parts[i].rank = rank_after_merge(i);
    std::copy(parts + i + 2, parts + m, parts + i + 1);
    --m;
    min_rank = kNone;
    for (std::size_t j = 0; j + 1 < m; ++j) {
      if (parts[j].rank < min_rank) {
        min_rank = parts[j].rank;
        min_i = j;
      }
    }
  }
  for (std::size_t i = 0; i + 1 < m; ++i) emit(parts[i].start, parts[i + 1].start);
}

// The same merges, found with a heap. A part is named by the byte where it starts; next[p] is
// where the part after it starts (n for the last) and rank[p] the rank of p merged with its
// next part. Heap entries are (rank << 32 | start); one whose rank no longer matches its part's
// is stale and skipped (tokens are unique, so a part's rank changes whenever its pair does).
// Working memory of merge_by_heap, kept per thread so that pieces do not allocate once it has
// grown to the longest seen; but given back after a piece longer than kKeptScratch bytes (it
// takes 20 bytes a byte), so one huge prompt does not pin megabytes to a worker for good.
constexpr std::size_t kKeptScratch = 4096;

struct HeapScratch {
  std::vector<std::uint32_t> next, prev, rank;
  std::vector<std::uint64_t> heap;
};

template <class Emit>
void merge_by_heap(const RankTable& ranks, std::string_view piece, Emit&& emit) {
  thread_local HeapScratch scratch;
  const auto n = static_cast<std::uint32_t>(piece.size());
  auto& [next, prev, rank, heap] = scratch;
  next.resize(n);
  prev.resize(n);
  rank.assign(n, kNone);
  heap.clear();
  auto pair_rank = [&](std::uint32_t p) {
    const std::uint32_t q = next[p];
    if (q >= n) return kNone;
    return ranks.find(piece.substr(p, next[q] - p));
  };
  for (std::uint32_t p = 0; p < n; ++p) {
    next[p] = p + 1;
    prev[p] = p == 0 ? kNone : p - 1;
  }
  for (std::uint32_t p = 0; p + 1 < n; ++p) {
    rank[p] = ranks.find(piece.substr(p, 2));
    if (rank[p] != kNone) heap.push_back(std::uint64_t{rank[p]} << 32 | p);
  }
  // A min-heap: std::greater puts the lowest (rank, start) on top.
  const std::greater<> later;
  std::make_heap(heap.begin(), heap.end(), later);
  auto push = [&](std::uint32_t p) {
    heap.push_back(std::uint64_t{rank[p]} << 32 | p);
    std::push_heap(heap.begin(), heap.end(), later);
  };
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const std::uint64_t top = heap.back();
    heap.pop_back();
    const auto p = static_cast<std::uint32_t>(top);
    if (rank[p] != top >> 32) continue;
    const std::uint32_t q = next[p];
    next[p] = next[q];
    if (next[q] < n) prev[next[q]] = p;
    rank[q] = kNone;
    rank[p] = pair_rank(p);
    if (rank[p] != kNone) push(p);
    if (prev[p] != kNone) {
      const std::uint32_t o = prev[p];
      rank[o] = pair_rank(o);
      if (rank[o] != kNone) push(o);
    }
  }
  for (std::uint32_t p = 0; p < n; p = next[p]) emit(p, next[p]);
  if (n > kKeptScratch) scratch = HeapScratch{};
}

template <class Emit>
void merge(const RankTable& ranks, std::string_view piece, Emit&& emit) {
  if (piece.size() <= kShortPiece) {
    Part parts[kShortPiece + 1];
    merge_by_scan(ranks, piece, parts, emit);
  } else {
    merge_by_heap(ranks, piece, emit);
  }
}

auto appender(const RankTable& ranks, std::string_view piece, std::vector<std::uint32_t>& out) {
  return [&ranks, piece, &out](std::uint32_t begin, std::uint32_t end) {
    out.push_back(ranks.find(piece.substr(begin, end - begin)));
  };
}

}  // namespace

std::size_t count_piece(const RankTable& ranks, std::string_view piece) {
  if (piece.empty()) return 0;
  if (piece.size() == 1 || ranks.find(piece) != kNone) return 1;
  std::size_t tokens = 0;
  merge(ranks, piece, [&tokens](std::uint32_t, std::uint32_t) { ++tokens; });
  return tokens;
}

void encode_piece(const RankTable& ranks, std::string_view piece, std::vector<std::uint32_t>& out) {
  if (piece.empty()) return;
  if (const std::uint32_t whole = ranks.find(piece); whole != kNone) {
    out.push_back(whole);
    return;
  }
  merge(ranks, piece, appender(ranks, piece, out));
}

std::vector<std::uint32_t> encode_piece_by_scan(const RankTable& ranks, std::string_view piece) {
  std::vector<std::uint32_t> out;
  if (piece.empty()) return out;
  auto parts = std::make_unique<Part[]>(piece.size() + 1);
  merge_by_scan(ranks, piece, parts.get(), appender(ranks, piece, out));
  return out;
}

std::vector<std::uint32_t> encode_piece_by_heap(const RankTable& ranks, std::string_view piece) {
  std::vector<std::uint32_t> out;
  if (piece.empty()) return out;
  merge_by_heap(ranks, piece, appender(ranks, piece, out));
  return out;
}

}  // namespace sluice::tokenizer
