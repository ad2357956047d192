#pragma once
// FeedBus: the bounded queue that carries observations from plugin threads (many producers) to
// the host's pump (one consumer). When it is full, publish() drops and counts per feed instead of
// growing or blocking: a plugin thread must never stall on the host, and memory stays bounded.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace ct::feeds {

// One observation as the host keeps it: own copies of the strings, unlike the ABI struct whose
// pointers are valid only during the call.
struct Observation {
    uint32_t feed = 0;  // FeedBus::addFeed id of the feed that published it
    std::string sensor; // store sensor id ("<feed>:<plugin sensor id>", see SensorStore)
    double phenomenonTime = std::numeric_limits<double>::quiet_NaN(); // s since 1970 UTC
    double resultTime = std::numeric_limits<double>::quiet_NaN();
    double value = std::numeric_limits<double>::quiet_NaN();
    int32_t quality = 0;   // 0 good, 1 suspect, 2 bad
    int64_t dedupKey = -1; // frame counter, or < 0: the phenomenon time is the key
};

struct BusCounters {
    uint64_t published = 0; // offered to publish(): queued + dropped
    uint64_t dropped = 0;   // refused because the queue was full
    uint64_t delivered = 0; // handed to the consumer by drain()
};

class FeedBus {
  public:
    explicit FeedBus(size_t capacity = 65536);
    FeedBus(const FeedBus&) = delete;
    FeedBus& operator=(const FeedBus&) = delete;

    // Registers a feed for per-feed counters; returns its id (0, 1, ...). Thread-safe.
    uint32_t addFeed(const std::string& name);

    // Queues as many as fit (moved in, in order) and drops the rest; returns how many were
    // queued. Thread-safe; never blocks on the consumer beyond a short critical section.
    size_t publish(uint32_t feed, std::vector<Observation>&& observations);
    size_t publish(uint32_t feed, std::span<const Observation> observations); // copies
    bool publish(Observation observation);                                    // uses observation.feed

    // Moves up to `max` queued observations (oldest first) to the end of `out`; returns how many.
    size_t drain(std::vector<Observation>& out, size_t max = std::numeric_limits<size_t>::max());
    // Waits until the queue is at least a quarter full, wake() is called, or the timeout passes;
    // lets a consumer sleep between batches without polling.
    void waitForWork(std::chrono::milliseconds timeout);
    void wake();

    size_t capacity() const { return slots.size(); }
    size_t size() const;
    size_t highWater() const; // the most observations ever queued at once (≤ capacity)
    BusCounters counters() const;
    BusCounters counters(uint32_t feed) const; // delivered per feed too
    std::vector<std::string> feedNames() const;

  private:
    size_t pushLocked(uint32_t feed, Observation&& o);
    bool crossedMarkLocked(size_t sizeBefore) const;

    mutable std::mutex mutex;
    std::condition_variable workCv;
    bool woken = false;
    std::vector<Observation> slots; // ring buffer, preallocated
    size_t head = 0, count = 0, maxCount = 0;
    BusCounters total;
    std::vector<BusCounters> perFeed;
    std::vector<std::string> names;
};

} // namespace ct::feeds
